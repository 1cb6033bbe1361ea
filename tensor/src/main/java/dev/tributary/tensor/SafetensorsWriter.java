package dev.tributary.tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a safetensors file in one pass with bounded memory. The tensors are declared up front (so the
 * header can be written first), then each is written once, in the declared order. Everything goes to a
 * temporary file beside the target, written behind the caller ({@link WriteBehind}: a {@link #write}
 * copies the tensor into a staging buffer and returns while a writer thread sends the previous buffers to
 * the disk, with direct I/O where the file system allows it); {@link #close()} checks that every tensor
 * was written, waits for the writer, syncs, and atomically renames the file over the target. On any
 * failure the temporary file is removed and the target is left as it was; a crash before the rename
 * leaves only a temporary file (dot-prefixed, never the target's name).
 *
 * <p>Call order: {@link #create}, {@link #write} once per declared tensor in order, {@link #close()}.
 */
public final class SafetensorsWriter implements AutoCloseable {
    private final Path target;
    private final Path temp;
    private final List<TensorInfo> infos;
    private final WriteBehind out;
    private int next;
    private boolean finished;
    private boolean failed;

    private SafetensorsWriter(Path target, Path temp, List<TensorInfo> infos, WriteBehind out) {
        this.target = target;
        this.temp = temp;
        this.infos = infos;
        this.out = out;
    }

    /**
     * Starts writing {@code target}: checks the declared tensors, writes the header to a temporary file.
     *
     * @param infos    the tensors, in the order they will be written and laid out
     * @param metadata string metadata stored as {@code __metadata__} (omitted when empty)
     * @throws IllegalArgumentException for duplicate or invalid names, or tensors that cannot be stored
     */
    public static SafetensorsWriter create(Path target, List<TensorInfo> infos, Map<String, String> metadata) {
        return create(target, infos, metadata, true, WriteBehind.CHUNK, WriteBehind.FLUSH_BYTES);
    }

    /**
     * {@link #create}, with direct I/O allowed or not, at most {@code chunk} bytes per staging buffer and,
     * through the page cache, a flush every {@code flushBytes}.
     */
    static SafetensorsWriter create(Path target, List<TensorInfo> infos, Map<String, String> metadata,
                                    boolean allowDirect, int chunk, long flushBytes) {
        Objects.requireNonNull(target, "target");
        List<TensorInfo> declared = List.copyOf(infos);
        Map<String, String> meta = new LinkedHashMap<>(Objects.requireNonNull(metadata, "metadata"));
        checkDeclared(target, declared, meta);
        byte[] prefix = SafetensorsHeader.encode(declared, meta);
        Path dir = target.toAbsolutePath().getParent();
        Path temp = dir.resolve("." + target.getFileName() + ".tmp-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        long size = prefix.length;
        for (TensorInfo info : declared) {
            size += info.byteSize();
        }
        // Small files get small staging buffers (64 KiB multiples, so still block-aligned).
        int staging = (int) Math.min(chunk, Math.max(64 << 10, (size + (64 << 10) - 1) & -(64L << 10)));
        WriteBehind w = null;
        try {
            w = WriteBehind.create(temp, allowDirect, staging, flushBytes);
            w.write(MemorySegment.ofArray(prefix));
            return new SafetensorsWriter(target, temp, declared, w);
        } catch (IOException e) {
            if (w != null) {
                w.abort();
            }
            deleteQuietly(temp);
            throw new UncheckedIOException(target + ": cannot write: " + e, e);
        }
    }

    private static void checkDeclared(Path target, List<TensorInfo> infos, Map<String, String> metadata) {
        Set<String> seen = new HashSet<>();
        for (TensorInfo info : infos) {
            String name = info.name();
            if (name.equals(SafetensorsHeader.METADATA_KEY)) {
                throw new IllegalArgumentException(target + ": a tensor cannot be called " + name);
            }
            if (!seen.add(name)) {
                throw new IllegalArgumentException(target + ": tensor " + Json.quote(name) + " declared twice");
            }
            checkUnicode(target, "tensor name", name);
            long bits;
            try {
                bits = Math.multiplyExact(info.numel(), (long) info.dtype().bits());
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException(target + ": tensor " + Json.quote(name) + ": " + info.dtype()
                        + " " + Shapes.toString(info.shape()) + " is too large to store");
            }
            if (bits % 8 != 0) {
                throw new IllegalArgumentException(target + ": tensor " + Json.quote(name) + ": " + info.dtype() + " "
                        + Shapes.toString(info.shape()) + " is " + bits + " bits, not a whole number of bytes");
            }
        }
        for (Map.Entry<String, String> m : metadata.entrySet()) {
            checkUnicode(target, "metadata key", Objects.requireNonNull(m.getKey(), "metadata key"));
            checkUnicode(target, "metadata value", Objects.requireNonNull(m.getValue(), "metadata " + m.getKey()));
        }
    }

    private static void checkUnicode(Path target, String what, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new IllegalArgumentException(target + ": " + what + " " + Json.quote(s)
                        + " is not valid Unicode (lone surrogate at index " + i + ")");
            }
        }
    }

    /** The target path. */
    public Path target() {
        return target;
    }

    /**
     * Writes the next declared tensor; {@code name}, dtype and shape must match the declaration.
     *
     * @throws IllegalArgumentException when the tensor does not match what was declared next
     * @throws IllegalStateException    when every declared tensor was already written, or after close
     */
    public void write(String name, Tensor t) {
        if (finished || failed) {
            throw new IllegalStateException(target + ": writer is closed");
        }
        if (next >= infos.size()) {
            throw new IllegalStateException(target + ": tensor " + Json.quote(name) + " written but all "
                    + infos.size() + " declared tensors are already written");
        }
        TensorInfo expected = infos.get(next);
        if (!expected.name().equals(name)) {
            throw new IllegalArgumentException(target + ": expected tensor " + Json.quote(expected.name())
                    + " next, got " + Json.quote(name));
        }
        if (t.dtype() != expected.dtype() || !Shapes.same(t.shape(), expected.shape())) {
            throw new IllegalArgumentException(target + ": tensor " + Json.quote(name) + ": " + t.dtype() + " "
                    + Shapes.toString(t.shape()) + " != declared " + expected.dtype() + " "
                    + Shapes.toString(expected.shape()));
        }
        try {
            out.write(t.data());
        } catch (IOException e) {
            abort();
            throw new UncheckedIOException(target + ": writing tensor " + Json.quote(name) + " failed: " + e, e);
        }
        next++;
    }

    /**
     * Finishes the file: checks that every declared tensor was written, syncs and renames it over the
     * target. When tensors are missing, the temporary file is removed, the target is untouched and
     * {@link IllegalStateException} is thrown. Calling it again does nothing.
     */
    @Override
    public void close() {
        if (finished || failed) {
            return;
        }
        Path done = finishToTemp();
        try {
            moveAtomically(done, target);
        } catch (IOException e) {
            deleteQuietly(done);
            throw new UncheckedIOException(target + ": cannot rename " + done.getFileName() + " into place: " + e, e);
        }
    }

    /** Completes and syncs the temporary file and returns it, leaving the rename to the caller. */
    Path finishToTemp() {
        if (next < infos.size()) {
            List<String> missing = new ArrayList<>();
            for (int i = next; i < infos.size() && missing.size() < 5; i++) {
                missing.add(Json.quote(infos.get(i).name()));
            }
            abort();
            throw new IllegalStateException(target + ": closed after " + next + " of " + infos.size()
                    + " declared tensors; not written: " + String.join(", ", missing)
                    + (infos.size() - next > missing.size() ? ", …" : "") + " (target left untouched)");
        }
        try {
            out.finish();
        } catch (IOException e) {
            abort();
            throw new UncheckedIOException(target + ": cannot sync " + temp.getFileName() + ": " + e, e);
        }
        finished = true;
        return temp;
    }

    /** Gives up: closes and removes the temporary file; the target is untouched. */
    void abort() {
        failed = true;
        out.abort();
        deleteQuietly(temp);
    }

    /** Renames {@code from} over {@code to} atomically and syncs the directory so the rename is durable. */
    static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
        Path dir = to.toAbsolutePath().getParent();
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Some platforms cannot open or sync a directory; the rename itself has happened.
        }
    }

    static void closeQuietly(FileChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                // Already failing; the original error is the one reported.
            }
        }
    }

    static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // Best effort: a stray temporary file is harmless, the target is untouched.
        }
    }
}

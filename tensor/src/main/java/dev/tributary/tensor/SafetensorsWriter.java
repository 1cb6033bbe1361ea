package dev.tributary.tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
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
 * header can be written first), then each is written once, in the declared order, straight from its
 * off-heap bytes to the file. Everything goes to a temporary file beside the target; {@link #close()}
 * checks that every tensor was written, syncs, and atomically renames it over the target. On any failure
 * the temporary file is removed and the target is left as it was.
 *
 * <p>Call order: {@link #create}, {@link #write} once per declared tensor in order, {@link #close()}.
 */
public final class SafetensorsWriter implements AutoCloseable {
    /** Largest slice handed to one channel write (ByteBuffers are int-indexed). */
    private static final long WRITE_CHUNK = 1L << 26;

    private final Path target;
    private final Path temp;
    private final List<TensorInfo> infos;
    private final FileChannel channel;
    private int next;
    private boolean finished;
    private boolean failed;

    private SafetensorsWriter(Path target, Path temp, List<TensorInfo> infos, FileChannel channel) {
        this.target = target;
        this.temp = temp;
        this.infos = infos;
        this.channel = channel;
    }

    /**
     * Starts writing {@code target}: checks the declared tensors, writes the header to a temporary file.
     *
     * @param infos    the tensors, in the order they will be written and laid out
     * @param metadata string metadata stored as {@code __metadata__} (omitted when empty)
     * @throws IllegalArgumentException for duplicate or invalid names, or tensors that cannot be stored
     */
    public static SafetensorsWriter create(Path target, List<TensorInfo> infos, Map<String, String> metadata) {
        Objects.requireNonNull(target, "target");
        List<TensorInfo> declared = List.copyOf(infos);
        Map<String, String> meta = new LinkedHashMap<>(Objects.requireNonNull(metadata, "metadata"));
        checkDeclared(target, declared, meta);
        byte[] prefix = SafetensorsHeader.encode(declared, meta);
        Path dir = target.toAbsolutePath().getParent();
        Path temp = dir.resolve("." + target.getFileName() + ".tmp-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        FileChannel ch = null;
        try {
            ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            writeFully(ch, ByteBuffer.wrap(prefix));
            return new SafetensorsWriter(target, temp, declared, ch);
        } catch (IOException e) {
            closeQuietly(ch);
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
            MemorySegment data = t.data();
            for (long off = 0; off < data.byteSize(); off += WRITE_CHUNK) {
                long len = Math.min(WRITE_CHUNK, data.byteSize() - off);
                writeFully(channel, data.asSlice(off, len).asByteBuffer());
            }
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
            channel.force(true);
            channel.close();
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
        closeQuietly(channel);
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

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
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

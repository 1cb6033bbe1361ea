package dev.tributary.store;

import dev.tributary.tensor.InvalidCheckpointException;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Periodic checkpoints of the coordinator's state in a folder: one safetensors file per checkpoint
 * holding the model ({@code model/<name>}) and the strategy's state ({@code state/<name>}), with
 * metadata {@code version}, {@code sha256} (of the model's own safetensors image), {@code log_position}
 * (records before it are in this state), {@code applied} (accepted updates in it) and {@code strategy}.
 * Written atomically; the newest {@code keep} are kept.
 */
public final class Checkpoints {
    public static final String FORMAT = "tributary-checkpoint-1";
    private static final Pattern NAME = Pattern.compile("checkpoint-(\\d{16})-(\\d{16})\\.safetensors");

    private final Path dir;
    private final int keep;

    /** A loaded checkpoint; tensors are private copies, free to mutate. */
    public record Loaded(Path file, long version, long logPosition, long applied, String strategy, String sha256,
            TensorMap model, TensorMap state) {}

    public Checkpoints(Path dir, int keep) {
        if (keep < 1) {
            throw new IllegalArgumentException("keep < 1: " + keep);
        }
        this.dir = dir;
        this.keep = keep;
    }

    /**
     * Writes a checkpoint of {@code model} (whose image, with the SHA-256 to record, is {@code image}) and
     * {@code state}, then removes all but the newest {@code keep}.
     */
    public Path write(ModelImage image, TensorMap model, long logPosition, long applied, String strategy, TensorMap state)
            throws IOException {
        TensorMap all = new TensorMap();
        model.asMap().forEach((n, t) -> all.put("model/" + n, t));
        state.asMap().forEach((n, t) -> all.put("state/" + n, t));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("version", Long.toString(image.version()));
        meta.put("sha256", image.sha256Hex());
        meta.put("log_position", Long.toString(logPosition));
        meta.put("applied", Long.toString(applied));
        meta.put("strategy", strategy);
        state.metadata().forEach((k, v) -> meta.put("state." + k, v));
        Path target = dir.resolve(String.format("checkpoint-%016d-%016d.safetensors", applied, image.version()));
        try (Arena arena = Arena.ofConfined()) {
            Durables.writeAtomically(target, Safetensors.encode(all, meta, arena));
        }
        List<Path> files = list();
        for (int k = keep; k < files.size(); k++) {
            Files.deleteIfExists(files.get(k));
        }
        if (files.size() > keep) {
            Durables.fsyncDirectory(dir);
        }
        return target;
    }

    /** Checkpoint files, newest first. */
    public List<Path> list() throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<Path> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> NAME.matcher(p.getFileName().toString()).matches()).forEach(out::add);
        }
        out.sort(Comparator.comparing((Path p) -> p.getFileName().toString()).reversed());
        return out;
    }

    /**
     * The smallest log position recorded by any checkpoint file in the folder, read from each file's header
     * alone: the log before it is needed by none of them. -1 when there is no checkpoint, or when a file's
     * header does not parse (until every one is known, no position is safe to compact up to).
     */
    public long oldestLogPosition() throws IOException {
        long oldest = Long.MAX_VALUE;
        for (Path p : list()) {
            try (Arena arena = Arena.ofConfined();
                    FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                MemorySegment bytes = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
                oldest = Math.min(oldest, number(dev.tributary.tensor.SafetensorsFile.of(bytes, p.getFileName().toString())
                        .metadata(), "log_position"));
            } catch (InvalidCheckpointException | IllegalArgumentException | java.nio.file.NoSuchFileException e) {
                return -1;
            }
        }
        return oldest == Long.MAX_VALUE ? -1 : oldest;
    }

    /** The newest checkpoint that opens and whose model matches its SHA-256; problems go to {@code warn}. */
    public Optional<Loaded> newestValid(Consumer<String> warn) throws IOException {
        for (Path p : list()) {
            try {
                return Optional.of(load(p));
            } catch (InvalidCheckpointException e) {
                warn.accept("checkpoint " + p.getFileName() + " skipped: " + e.problem());
            } catch (IllegalArgumentException | IOException e) {
                warn.accept("checkpoint " + p.getFileName() + " skipped: " + e.getMessage());
            }
        }
        return Optional.empty();
    }

    /** Loads and verifies one checkpoint file. */
    public static Loaded load(Path file) throws IOException {
        Matcher nm = NAME.matcher(file.getFileName().toString());
        if (!nm.matches()) {
            throw new IllegalArgumentException("not a checkpoint file name: " + file.getFileName());
        }
        try (Arena arena = Arena.ofConfined();
                FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment bytes = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            TensorMap d = ModelImage.tensors(bytes, file.getFileName().toString());
            Map<String, String> meta = d.metadata();
            if (!FORMAT.equals(meta.get("format"))) {
                throw new IllegalArgumentException("format \"" + meta.get("format") + "\" != \"" + FORMAT + "\"");
            }
            TensorMap model = new TensorMap();
            TensorMap state = new TensorMap();
            Arena owned = Arena.ofAuto();
            for (Map.Entry<String, Tensor> e : d.asMap().entrySet()) {
                String n = e.getKey();
                if (n.startsWith("model/")) {
                    model.put(n.substring(6), e.getValue().copy(owned));
                } else if (n.startsWith("state/")) {
                    state.put(n.substring(6), e.getValue().copy(owned));
                } else {
                    throw new IllegalArgumentException("tensor \"" + n + "\" is neither model/ nor state/");
                }
            }
            meta.forEach((k, v) -> {
                if (k.startsWith("state.")) {
                    state.putMetadata(k.substring(6), v);
                }
            });
            long version = number(meta, "version");
            String sha = meta.getOrDefault("sha256", "");
            String actual = ModelImage.of(version, model).sha256Hex();
            if (!actual.equals(sha)) {
                throw new IllegalArgumentException("model SHA-256 " + actual + " != recorded " + sha);
            }
            return new Loaded(file, version, number(meta, "log_position"), number(meta, "applied"),
                    meta.getOrDefault("strategy", ""), sha, model, state);
        }
    }

    private static long number(Map<String, String> meta, String key) {
        String v = meta.get(key);
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("metadata " + key + " \"" + v + "\" is not an integer");
        }
    }
}

package dev.tributary.tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a checkpoint folder, sharded the way Hugging Face transformers shards: tensors are packed in
 * order into shards of at most {@code maxShardBytes} of tensor data (a tensor larger than that gets a
 * shard of its own). One shard is written as {@code model.safetensors}; several as
 * {@code model-00001-of-0000N.safetensors}… with a {@code model.safetensors.index.json} holding
 * {@code {"metadata": {"total_size": bytes}, "weight_map": {tensor: shard}}}. Every shard carries the
 * given metadata.
 *
 * <p>Call order: {@link #create}, {@link #write} once per declared tensor in order, {@link #close()}.
 * Shards go to temporary files; only {@link #close()} renames them into place (each atomically), then the
 * index, so a failure before that leaves the folder as it was.
 */
public final class CheckpointWriter implements AutoCloseable {
    private final Path dir;
    private final Map<String, String> metadata;
    private final List<List<TensorInfo>> shards;
    private final List<Path> shardNames;
    private final List<Path> finishedTemps = new ArrayList<>();
    private final long totalSize;
    private SafetensorsWriter current;
    private int currentShard = -1;
    private int writtenInShard;
    private boolean closed;

    private CheckpointWriter(Path dir, Map<String, String> metadata, List<List<TensorInfo>> shards, long totalSize) {
        this.dir = dir;
        this.metadata = metadata;
        this.shards = shards;
        this.totalSize = totalSize;
        this.shardNames = new ArrayList<>();
        for (int i = 0; i < shards.size(); i++) {
            shardNames.add(dir.resolve(shards.size() == 1 ? Checkpoint.SINGLE_FILE
                    : String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size())));
        }
    }

    /**
     * Plans the shards and creates {@code dir} if needed; nothing is written into it until the first
     * tensor arrives.
     *
     * @param maxShardBytes most tensor bytes per shard (&gt; 0)
     */
    public static CheckpointWriter create(Path dir, List<TensorInfo> infos, Map<String, String> metadata,
                                          long maxShardBytes) {
        if (maxShardBytes <= 0) {
            throw new IllegalArgumentException("maxShardBytes <= 0: " + maxShardBytes);
        }
        Objects.requireNonNull(metadata, "metadata");
        Set<String> names = new HashSet<>();
        for (TensorInfo info : infos) {
            if (!names.add(info.name())) {
                throw new IllegalArgumentException(dir + ": tensor " + Json.quote(info.name()) + " declared twice");
            }
        }
        List<List<TensorInfo>> shards = new ArrayList<>();
        List<TensorInfo> shard = new ArrayList<>();
        long shardBytes = 0;
        long total = 0;
        for (TensorInfo info : infos) {
            long size = info.byteSize();
            if (!shard.isEmpty() && shardBytes + size > maxShardBytes) {
                shards.add(shard);
                shard = new ArrayList<>();
                shardBytes = 0;
            }
            shard.add(info);
            shardBytes += size;
            total = Math.addExact(total, size);
        }
        shards.add(shard);
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot create folder: " + e, e);
        }
        return new CheckpointWriter(dir, Collections.unmodifiableMap(new LinkedHashMap<>(metadata)), shards, total);
    }

    /** Number of shard files this checkpoint will have. */
    public int shardCount() {
        return shards.size();
    }

    /** Writes the next declared tensor (same name, dtype and shape as declared). */
    public void write(String name, Tensor t) {
        if (closed) {
            throw new IllegalStateException(dir + ": checkpoint writer is closed");
        }
        while (current == null || writtenInShard == shards.get(currentShard).size()) {
            if (currentShard + 1 >= shards.size()) {
                throw new IllegalStateException(dir + ": tensor " + Json.quote(name)
                        + " written but every declared tensor is already written");
            }
            if (current != null) {
                finishedTemps.add(current.finishToTemp());
            }
            currentShard++;
            writtenInShard = 0;
            current = SafetensorsWriter.create(shardNames.get(currentShard), shards.get(currentShard), metadata);
        }
        try {
            current.write(name, t);
        } catch (UncheckedIOException e) {
            abort();
            throw e;
        }
        writtenInShard++;
    }

    /**
     * Checks every declared tensor was written, then moves the shards into place and writes the index
     * (several shards) or removes a stale index (one shard). On failure every temporary file is removed.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        try {
            if (current == null) {
                // Nothing written yet: only valid when nothing was declared.
                current = SafetensorsWriter.create(shardNames.get(0), shards.get(0), metadata);
                currentShard = 0;
            }
            finishedTemps.add(current.finishToTemp());
            if (finishedTemps.size() < shards.size()) {
                int missing = 0;
                for (int i = finishedTemps.size(); i < shards.size(); i++) {
                    missing += shards.get(i).size();
                }
                throw new IllegalStateException(dir + ": closed with " + missing
                        + " declared tensors not written (folder left untouched)");
            }
            Path indexTemp = shards.size() > 1 ? writeIndexTemp() : null;
            for (int i = 0; i < shards.size(); i++) {
                SafetensorsWriter.moveAtomically(finishedTemps.get(i), shardNames.get(i));
            }
            Path index = dir.resolve(Checkpoint.INDEX_FILE);
            if (indexTemp != null) {
                SafetensorsWriter.moveAtomically(indexTemp, index);
            } else {
                Files.deleteIfExists(index);
            }
            closed = true;
        } catch (IOException e) {
            abort();
            throw new UncheckedIOException(dir + ": cannot finish checkpoint: " + e, e);
        } catch (RuntimeException e) {
            abort();
            throw e;
        }
    }

    private Path writeIndexTemp() throws IOException {
        StringBuilder json = new StringBuilder();
        json.append("{\n  \"metadata\": {\n    \"total_size\": ").append(totalSize).append("\n  },\n");
        json.append("  \"weight_map\": {");
        boolean first = true;
        for (int i = 0; i < shards.size(); i++) {
            String file = Json.quote(shardNames.get(i).getFileName().toString());
            for (TensorInfo info : shards.get(i)) {
                json.append(first ? "\n" : ",\n").append("    ").append(Json.quote(info.name())).append(": ").append(file);
                first = false;
            }
        }
        json.append("\n  }\n}\n");
        Path temp = dir.resolve("." + Checkpoint.INDEX_FILE + ".tmp-" + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        Files.writeString(temp, json, StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        finishedTemps.add(temp);
        return temp;
    }

    private void abort() {
        closed = true;
        if (current != null) {
            current.abort();
        }
        finishedTemps.forEach(SafetensorsWriter::deleteQuietly);
    }
}

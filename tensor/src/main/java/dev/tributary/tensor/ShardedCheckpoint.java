package dev.tributary.tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A sharded checkpoint: an index ({@code model.safetensors.index.json}) mapping each tensor to a shard
 * file in the same folder. Tensors are listed in the order of the index's weight map; every shard is
 * opened and validated up front, and must hold exactly the tensors the index maps to it. The metadata
 * is the {@code __metadata__} of the shard holding the first tensor (every shard carries the same
 * metadata when written by {@link CheckpointWriter} or transformers).
 */
final class ShardedCheckpoint implements TensorSource {
    /** An index larger than this is refused before it is read (real ones are a few MB at most). */
    static final long MAX_INDEX_BYTES = 100_000_000L;

    private final Map<String, SafetensorsFile> shardOf;
    private final List<SafetensorsFile> shards;
    private final List<String> names;
    private final List<TensorInfo> infos;
    private final Map<String, String> metadata;

    private ShardedCheckpoint(Map<String, SafetensorsFile> shardOf, List<SafetensorsFile> shards) {
        this.shardOf = shardOf;
        this.shards = shards;
        this.names = List.copyOf(shardOf.keySet());
        List<TensorInfo> i = new ArrayList<>(names.size());
        shardOf.forEach((name, shard) -> i.add(shard.info(name)));
        this.infos = List.copyOf(i);
        this.metadata = shards.isEmpty() ? Map.of() : shardOf.get(names.getFirst()).metadata();
    }

    static ShardedCheckpoint open(Path index) {
        String source = index.toString();
        Map<String, String> weightMap = readWeightMap(index, source);
        Path dir = index.toAbsolutePath().getParent();
        Map<String, SafetensorsFile> byFile = new LinkedHashMap<>();
        try {
            Map<String, SafetensorsFile> shardOf = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                String file = e.getValue();
                SafetensorsFile shard = byFile.get(file);
                if (shard == null) {
                    Path p = dir.resolve(file);
                    if (!Files.isRegularFile(p)) {
                        throw new InvalidCheckpointException(source, "shard " + Json.quote(file) + " of tensor "
                                + Json.quote(e.getKey()) + " does not exist");
                    }
                    shard = SafetensorsFile.open(p);
                    byFile.put(file, shard);
                }
                if (!shard.contains(e.getKey())) {
                    throw new InvalidCheckpointException(source, "tensor " + Json.quote(e.getKey()) + " is mapped to "
                            + Json.quote(file) + ", which does not hold it");
                }
                shardOf.put(e.getKey(), shard);
            }
            for (Map.Entry<String, SafetensorsFile> s : byFile.entrySet()) {
                for (String name : s.getValue().names()) {
                    String mapped = weightMap.get(name);
                    if (!s.getKey().equals(mapped)) {
                        throw new InvalidCheckpointException(s.getValue().path().toString(), "tensor " + Json.quote(name)
                                + (mapped == null ? " is not in the weight_map of " + index.getFileName()
                                        : " is mapped to " + Json.quote(mapped) + " by " + index.getFileName()));
                    }
                }
            }
            return new ShardedCheckpoint(shardOf, List.copyOf(byFile.values()));
        } catch (RuntimeException e) {
            byFile.values().forEach(SafetensorsFile::close);
            throw e;
        }
    }

    private static Map<String, String> readWeightMap(Path index, String source) {
        String text;
        try {
            long size = Files.size(index);
            if (size > MAX_INDEX_BYTES) {
                throw new InvalidCheckpointException(source, "index of " + size + " bytes exceeds the limit of "
                        + MAX_INDEX_BYTES);
            }
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(Files.readAllBytes(index))).toString();
        } catch (CharacterCodingException e) {
            throw new InvalidCheckpointException(source, "index is not valid UTF-8");
        } catch (IOException e) {
            throw new UncheckedIOException(source + ": cannot read: " + e, e);
        }
        Json.Value root;
        try {
            root = Json.parse(text);
        } catch (Json.ParseException e) {
            throw new InvalidCheckpointException(source, "index is not valid JSON: " + e.getMessage());
        }
        if (!(root instanceof Json.Obj obj)) {
            throw new InvalidCheckpointException(source, "index is not a JSON object");
        }
        Json.Value wm = obj.members().get("weight_map");
        if (wm == null) {
            throw new InvalidCheckpointException(source, "index has no \"weight_map\"");
        }
        if (!(wm instanceof Json.Obj map)) {
            throw new InvalidCheckpointException(source, "\"weight_map\" must be an object of tensor name to shard file");
        }
        Json.Value meta = obj.members().get("metadata");
        if (meta != null && !(meta instanceof Json.Obj) && meta != Json.Null.INSTANCE) {
            throw new InvalidCheckpointException(source, "\"metadata\" must be an object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, Json.Value> e : map.members().entrySet()) {
            if (!(e.getValue() instanceof Json.Str file)) {
                throw new InvalidCheckpointException(source, "weight_map " + Json.quote(e.getKey())
                        + ": shard must be a file name string");
            }
            checkShardName(source, e.getKey(), file.value());
            out.put(e.getKey(), file.value());
        }
        return out;
    }

    /** Shards must be plain file names in the index's folder: no paths, nothing outside it. */
    private static void checkShardName(String source, String tensor, String file) {
        if (file.isEmpty() || file.equals(".") || file.equals("..") || file.contains("/") || file.contains("\\")
                || file.chars().anyMatch(c -> c < 0x20) || file.contains(":")) {
            throw new InvalidCheckpointException(source, "weight_map " + Json.quote(tensor) + ": shard "
                    + Json.quote(file) + " is not a plain file name in the checkpoint folder");
        }
    }

    @Override
    public List<String> names() {
        return names;
    }

    @Override
    public List<TensorInfo> infos() {
        return infos;
    }

    @Override
    public boolean contains(String name) {
        return shardOf.containsKey(name);
    }

    @Override
    public Tensor tensor(String name) {
        SafetensorsFile shard = shardOf.get(name);
        if (shard == null) {
            throw new IllegalArgumentException("sharded checkpoint: no tensor " + Json.quote(name));
        }
        return shard.tensor(name);
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    @Override
    public void close() {
        shards.forEach(SafetensorsFile::close);
    }
}

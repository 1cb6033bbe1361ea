package dev.tributary.tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/** An ordered, mutable map from names to tensors with string metadata; an in-memory {@link TensorSource}. */
public final class TensorMap implements TensorSource {
    private final LinkedHashMap<String, Tensor> tensors = new LinkedHashMap<>();
    private final LinkedHashMap<String, String> metadata = new LinkedHashMap<>();

    public TensorMap() {}

    public TensorMap(Map<String, Tensor> tensors) {
        tensors.forEach(this::put);
    }

    public TensorMap put(String name, Tensor t) {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(t, "tensor " + name);
        tensors.put(name, t);
        return this;
    }

    public Tensor get(String name) {
        return tensors.get(name);
    }

    public int size() {
        return tensors.size();
    }

    public Map<String, Tensor> asMap() {
        return Collections.unmodifiableMap(tensors);
    }

    public TensorMap putMetadata(String key, String value) {
        metadata.put(Objects.requireNonNull(key), Objects.requireNonNull(value, "metadata " + key));
        return this;
    }

    @Override
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    @Override
    public List<TensorInfo> infos() {
        List<TensorInfo> out = new ArrayList<>(tensors.size());
        tensors.forEach((n, t) -> out.add(t.info(n)));
        return out;
    }

    @Override
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no tensor " + name);
        }
        return t;
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    @Override
    public Map<String, String> metadata() {
        return Collections.unmodifiableMap(metadata);
    }

    /** Total number of elements over all tensors. */
    public long parameters() {
        long n = 0;
        for (Tensor t : tensors.values()) {
            n = Math.addExact(n, t.numel());
        }
        return n;
    }

    @Override
    public void close() {}
}

package dev.tributary.merge.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The layer structure of a checkpoint read from its tensor names, where mergekit reads it from an
 * architecture file: a tensor belongs to layer i of a stack when its name has a segment {@code i} right
 * after {@code layers}, {@code layer}, {@code h}, {@code blocks} or {@code block}
 * ({@code model.layers.3.mlp.up_proj.weight}, {@code transformer.h.3.attn.c_attn.weight}); the stack is
 * what comes before the index. Other tensors lie outside the layers: embeddings ({@code embed},
 * {@code wte}, {@code wpe} in the name) before them, the rest (final norm, lm_head) after.
 */
final class Layers {
    private static final Pattern LAYER = Pattern.compile("^((?:.*\\.)?(?:layers|layer|h|blocks|block)\\.)(\\d+)\\.(.+)$");
    private static final Pattern EMBEDDING = Pattern.compile("(^|\\.)(embed[a-z_]*|wte|wpe|word_embeddings)(\\.|$)");

    /** A tensor's place in a stack: name = stack + index + "." + suffix. */
    record Name(String stack, int index, String suffix) {
        String at(int layer) {
            return stack + layer + "." + suffix;
        }
    }

    /** One stack: its layers' tensor suffixes, in file order. */
    record Stack(String prefix, List<List<String>> layers) {
        int count() {
            return layers.size();
        }
    }

    private Layers() {}

    /** The tensor's layer, or null when it lies outside the layers. */
    static Name parse(String tensor) {
        Matcher m = LAYER.matcher(tensor);
        if (!m.matches() || m.group(2).length() > 9) {
            return null;
        }
        return new Name(m.group(1), Integer.parseInt(m.group(2)), m.group(3));
    }

    /** Whether a tensor outside the layers comes before them (an embedding) rather than after. */
    static boolean beforeLayers(String tensor) {
        return EMBEDDING.matcher(tensor).find();
    }

    /** The stacks of a model, by prefix in order of appearance; a layer no tensor names is an empty list. */
    static Map<String, Stack> stacks(List<String> names) {
        Map<String, List<List<String>>> byPrefix = new LinkedHashMap<>();
        for (String n : names) {
            Name name = parse(n);
            if (name == null) {
                continue;
            }
            List<List<String>> layers = byPrefix.computeIfAbsent(name.stack(), k -> new ArrayList<>());
            while (layers.size() <= name.index()) {
                layers.add(new ArrayList<>());
            }
            layers.get(name.index()).add(name.suffix());
        }
        Map<String, Stack> out = new LinkedHashMap<>();
        byPrefix.forEach((k, v) -> out.put(k, new Stack(k, v)));
        return out;
    }

    /** mergekit's depth of layer {@code offset} among {@code count}: offset/(count − 1), or 1 for a single layer. */
    static double depth(int offset, int count) {
        return count > 1 ? (double) offset / (count - 1) : 1;
    }
}

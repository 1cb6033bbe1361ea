package dev.tributary.merge.lora;

import dev.tributary.merge.MergeException;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a PEFT adapter file holds, from its key names: LoRA modules (A, B and, for DoRA, the magnitude
 * vector) and whole tensors that replace the base's (an embedding saved with {@code save_embedding_layers}
 * as {@code <module>.base_layer.weight}, a module of {@code modules_to_save} as {@code <module>.weight}).
 */
final class AdapterModules {
    static final String PREFIX = "base_model.model.";
    static final String A = ".lora_A.weight";
    static final String B = ".lora_B.weight";
    static final String EMBED_A = ".lora_embedding_A";
    static final String EMBED_B = ".lora_embedding_B";
    static final String MAGNITUDE = ".lora_magnitude_vector";
    private static final String BASE_LAYER = ".base_layer.";

    /**
     * One adapted module.
     *
     * @param name         the module's name in the base model (its weight is {@code name + ".weight"})
     * @param aKey         key of the A matrix in the adapter file
     * @param bKey         key of the B matrix
     * @param magnitudeKey key of DoRA's magnitude vector, or null for plain LoRA
     * @param embedding    whether it is an embedding (ΔW = (B·A)ᵀ)
     */
    record Module(String name, String aKey, String bKey, String magnitudeKey, boolean embedding) {}

    /**
     * A whole tensor of the adapter that takes the place of the base's.
     *
     * @param tensor    the base tensor's name
     * @param key       the adapter key holding the new value
     * @param baseLayer whether it was saved as {@code <module>.base_layer.<param>} (the wrapped layer of a
     *                  targeted module, as save_embedding_layers writes it)
     */
    record Replacement(String tensor, String key, boolean baseLayer) {}

    /** The adapter's modules and replacements, in file order. */
    record Contents(List<Module> modules, List<Replacement> replacements) {}

    private AdapterModules() {}

    /**
     * Groups the adapter's keys by module; every module must have both A and B. Keys that are no LoRA
     * matrix become replacements of the base tensor of the same name; whether that is allowed is for
     * the caller to decide.
     */
    static Contents parse(List<String> keys, String where) {
        Map<String, String[]> byModule = new LinkedHashMap<>();
        Map<String, Boolean> embedding = new LinkedHashMap<>();
        List<Replacement> replacements = new ArrayList<>();
        for (String key : keys) {
            if (!key.startsWith(PREFIX)) {
                throw new MergeException(where + ": key " + key + ": expected PEFT's " + PREFIX
                        + "<module>.lora_A.weight layout");
            }
            String rest = key.substring(PREFIX.length());
            int slot;
            String suffix;
            if (rest.endsWith(A)) {
                slot = 0;
                suffix = A;
            } else if (rest.endsWith(B)) {
                slot = 1;
                suffix = B;
            } else if (rest.endsWith(EMBED_A)) {
                slot = 0;
                suffix = EMBED_A;
            } else if (rest.endsWith(EMBED_B)) {
                slot = 1;
                suffix = EMBED_B;
            } else if (rest.endsWith(MAGNITUDE)) {
                slot = 2;
                suffix = MAGNITUDE;
            } else if (rest.endsWith(MAGNITUDE + ".weight")) {
                slot = 2;
                suffix = MAGNITUDE + ".weight";
            } else {
                if (rest.contains(".lora_")) {
                    throw new MergeException(where + ": key " + key + ": not a LoRA matrix PEFT's merge uses "
                            + "(supported: lora_A.weight, lora_B.weight, lora_embedding_A, lora_embedding_B, "
                            + "lora_magnitude_vector)");
                }
                int at = rest.indexOf(BASE_LAYER);
                replacements.add(at < 0 ? new Replacement(rest, key, false)
                        : new Replacement(rest.substring(0, at) + "." + rest.substring(at + BASE_LAYER.length()), key,
                                true));
                continue;
            }
            String module = rest.substring(0, rest.length() - suffix.length());
            if (slot < 2) {
                boolean emb = suffix.startsWith(".lora_embedding");
                Boolean prev = embedding.put(module, emb);
                if (prev != null && prev != emb) {
                    throw new MergeException(where + ": module " + module
                            + ": mixes lora_embedding and lora_A/lora_B keys");
                }
            }
            String[] parts = byModule.computeIfAbsent(module, m -> new String[3]);
            parts[slot] = key;
        }
        List<Module> modules = byModule.entrySet().stream().map(e -> {
            String[] parts = e.getValue();
            if (parts[0] == null || parts[1] == null) {
                String has = parts[0] != null ? "an A" : parts[1] != null ? "a B" : "a magnitude vector";
                throw new MergeException(where + ": module " + e.getKey() + ": has " + has + " but no "
                        + (parts[0] == null ? "A" : "B") + " matrix");
            }
            return new Module(e.getKey(), parts[0], parts[1], parts[2], embedding.get(e.getKey()));
        }).toList();
        return new Contents(modules, replacements);
    }
}

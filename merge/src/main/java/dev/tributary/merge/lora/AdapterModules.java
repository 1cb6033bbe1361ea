package dev.tributary.merge.lora;

import dev.tributary.merge.MergeException;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The LoRA modules an adapter file holds, from PEFT's key names. */
final class AdapterModules {
    static final String PREFIX = "base_model.model.";
    static final String A = ".lora_A.weight";
    static final String B = ".lora_B.weight";
    static final String EMBED_A = ".lora_embedding_A";
    static final String EMBED_B = ".lora_embedding_B";

    /**
     * One adapted module.
     *
     * @param name      the module's name in the base model (its weight is {@code name + ".weight"})
     * @param aKey      key of the A matrix in the adapter file
     * @param bKey      key of the B matrix
     * @param embedding whether it is an embedding (ΔW = (B·A)ᵀ)
     */
    record Module(String name, String aKey, String bKey, boolean embedding) {}

    private AdapterModules() {}

    /** Groups the adapter's keys by module; every key must be a LoRA A or B matrix, every module must have both. */
    static List<Module> parse(List<String> keys, String where) {
        Map<String, String[]> byModule = new LinkedHashMap<>();
        Map<String, Boolean> embedding = new LinkedHashMap<>();
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
            } else {
                throw new MergeException(where + ": key " + key + ": not a LoRA matrix (supported: lora_A.weight, "
                        + "lora_B.weight, lora_embedding_A, lora_embedding_B)");
            }
            String module = rest.substring(0, rest.length() - suffix.length());
            boolean emb = suffix.startsWith(".lora_embedding");
            Boolean prev = embedding.put(module, emb);
            if (prev != null && prev != emb) {
                throw new MergeException(where + ": module " + module
                        + ": mixes lora_embedding and lora_A/lora_B keys");
            }
            String[] pair = byModule.computeIfAbsent(module, m -> new String[2]);
            pair[slot] = key;
        }
        return byModule.entrySet().stream().map(e -> {
            String[] pair = e.getValue();
            if (pair[0] == null || pair[1] == null) {
                throw new MergeException(where + ": module " + e.getKey() + ": has " + (pair[0] == null ? "B" : "A")
                        + " but no " + (pair[0] == null ? "A" : "B") + " matrix");
            }
            return new Module(e.getKey(), pair[0], pair[1], embedding.get(e.getKey()));
        }).toList();
    }
}

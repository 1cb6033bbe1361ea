package dev.tributary.merge.lora;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.merge.MergeException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The parts of a PEFT {@code adapter_config.json} that decide a LoRA adapter's arithmetic, matched the
 * way PEFT matches them.
 *
 * <ul>
 *   <li>{@code target_modules}: a list matches a module whose name equals an entry or ends with
 *       {@code "." + entry}; a string is a regular expression the whole name must match;
 *       {@code "all-linear"} matches every module.</li>
 *   <li>{@code rank_pattern}, {@code alpha_pattern}: the first key (in file order) for which
 *       {@code (.*\.)?(key)$} matches the module name gives that module's rank or alpha; otherwise
 *       {@code r} and {@code lora_alpha}.</li>
 *   <li>scale s = alpha / r, or alpha / √r with {@code use_rslora}.</li>
 * </ul>
 *
 * @param r              default rank
 * @param loraAlpha      default alpha
 * @param useRslora      rank-stabilized scaling
 * @param fanInFanOut    base weights stored as (in, out), as GPT-2's Conv1D does
 * @param targetList     {@code target_modules} when it is a list, else null
 * @param targetRegex    {@code target_modules} when it is a string, else null
 * @param rankPattern    per-module ranks
 * @param alphaPattern   per-module alphas
 * @param baseModel      {@code base_model_name_or_path}, or null
 * @param useDora        DoRA: each module also has a magnitude vector m, W' = m·(W + s·ΔW) / ‖W + s·ΔW‖ per output
 * @param modulesToSave  {@code modules_to_save}: modules the adapter holds whole (matched like a target list)
 * @param bias           {@code bias}: "none", "all" or "lora_only" (with the latter two the adapter may hold biases)
 */
public record LoraConfig(int r, double loraAlpha, boolean useRslora, boolean fanInFanOut, List<String> targetList,
                         String targetRegex, Map<String, Integer> rankPattern, Map<String, Double> alphaPattern,
                         String baseModel, boolean useDora, List<String> modulesToSave, String bias) {

    public LoraConfig {
        if (r <= 0) {
            throw new MergeException("adapter_config.json: r: " + r + " must be positive");
        }
        targetList = targetList == null ? null : List.copyOf(targetList);
        rankPattern = Collections.unmodifiableMap(new LinkedHashMap<>(rankPattern));
        alphaPattern = Collections.unmodifiableMap(new LinkedHashMap<>(alphaPattern));
        modulesToSave = List.copyOf(modulesToSave);
        bias = bias == null ? "none" : bias;
    }

    /** A plain LoRA config: no DoRA, no modules_to_save, no biases. */
    public LoraConfig(int r, double loraAlpha, boolean useRslora, boolean fanInFanOut, List<String> targetList,
                      String targetRegex, Map<String, Integer> rankPattern, Map<String, Double> alphaPattern,
                      String baseModel) {
        this(r, loraAlpha, useRslora, fanInFanOut, targetList, targetRegex, rankPattern, alphaPattern, baseModel,
                false, List.of(), "none");
    }

    /**
     * Reads {@code adapter_config.json}.
     *
     * @throws MergeException naming the file and key when it is unreadable or not a LoRA config
     */
    public static LoraConfig read(Path file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (JacksonException e) {
            throw new MergeException(file + ": not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new MergeException(file + ": cannot read: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new MergeException(file + ": expected a JSON object");
        }
        String where = file.getFileName().toString();
        JsonNode type = root.get("peft_type");
        if (type != null && !type.isNull() && !"LORA".equals(type.asText())) {
            throw new MergeException(where + ": peft_type: " + type.asText() + " is not LORA");
        }
        int r = integer(root.get("r"), where + ": r");
        double alpha = root.hasNonNull("lora_alpha") ? number(root.get("lora_alpha"), where + ": lora_alpha") : 8;
        List<String> list = null;
        String regex = null;
        JsonNode targets = root.get("target_modules");
        if (targets != null && targets.isArray()) {
            list = new ArrayList<>();
            for (JsonNode t : targets) {
                list.add(t.asText());
            }
        } else if (targets != null && targets.isTextual()) {
            regex = targets.asText();
            if (!regex.equals("all-linear")) {
                try {
                    Pattern.compile(regex);
                } catch (PatternSyntaxException e) {
                    throw new MergeException(where + ": target_modules: \"" + regex
                            + "\" is not a valid regular expression");
                }
            }
        } else if (targets != null && !targets.isNull()) {
            throw new MergeException(where + ": target_modules: expected a list or a string");
        }
        Map<String, Integer> ranks = new LinkedHashMap<>();
        root.path("rank_pattern").properties().forEach(e ->
                ranks.put(e.getKey(), integer(e.getValue(), where + ": rank_pattern." + e.getKey())));
        Map<String, Double> alphas = new LinkedHashMap<>();
        root.path("alpha_pattern").properties().forEach(e ->
                alphas.put(e.getKey(), number(e.getValue(), where + ": alpha_pattern." + e.getKey())));
        List<String> toSave = new ArrayList<>();
        JsonNode save = root.get("modules_to_save");
        if (save != null && save.isArray()) {
            save.forEach(m -> toSave.add(m.asText()));
        } else if (save != null && !save.isNull()) {
            throw new MergeException(where + ": modules_to_save: expected a list or null, got " + save);
        }
        String bias = root.path("bias").asText("none");
        if (!List.of("none", "all", "lora_only").contains(bias)) {
            throw new MergeException(where + ": bias: \"" + bias + "\" is not one of none, all, lora_only");
        }
        if (root.path("lora_bias").asBoolean(false)) {
            throw new MergeException(where + ": lora_bias: adapters with a bias on lora_B are not supported");
        }
        JsonNode base = root.get("base_model_name_or_path");
        return new LoraConfig(r, alpha, root.path("use_rslora").asBoolean(false),
                root.path("fan_in_fan_out").asBoolean(false), list, regex, ranks, alphas,
                base == null || base.isNull() ? null : base.asText(), root.path("use_dora").asBoolean(false),
                toSave, bias);
    }

    private static int integer(JsonNode n, String where) {
        if (n == null || !n.canConvertToInt() || !n.isIntegralNumber() || n.asInt() <= 0) {
            throw new MergeException(where + ": expected a positive integer, got " + n);
        }
        return n.asInt();
    }

    private static double number(JsonNode n, String where) {
        if (n == null || !n.isNumber() || !Double.isFinite(n.asDouble())) {
            throw new MergeException(where + ": expected a number, got " + n);
        }
        return n.asDouble();
    }

    /** Whether {@code target_modules} selects the module (always true when it is absent). */
    public boolean targets(String module) {
        if (targetRegex != null) {
            return targetRegex.equals("all-linear") || Pattern.matches(targetRegex, module);
        }
        if (targetList == null) {
            return true;
        }
        for (String t : targetList) {
            if (module.equals(t) || module.endsWith("." + t)) {
                return true;
            }
        }
        return false;
    }

    /** Whether {@code modules_to_save} lists the module (its name equals an entry or ends with "." + entry). */
    public boolean saves(String module) {
        for (String m : modulesToSave) {
            if (module.equals(m) || module.endsWith("." + m)) {
                return true;
            }
        }
        return false;
    }

    /** The module's rank. */
    public int rank(String module) {
        return rankPattern.getOrDefault(patternKey(rankPattern.keySet(), module), r);
    }

    /** The module's alpha. */
    public double alpha(String module) {
        return alphaPattern.getOrDefault(patternKey(alphaPattern.keySet(), module), loraAlpha);
    }

    /** The module's scale: alpha / r, or alpha / √r with rsLoRA. */
    public double scale(String module) {
        int rank = rank(module);
        return useRslora ? alpha(module) / Math.sqrt(rank) : alpha(module) / rank;
    }

    private static String patternKey(Iterable<String> keys, String module) {
        for (String key : keys) {
            try {
                if (Pattern.matches("(.*\\.)?(" + key + ")", module)) {
                    return key;
                }
            } catch (PatternSyntaxException e) {
                if (key.equals(module)) {
                    return key;
                }
            }
        }
        return module;
    }
}

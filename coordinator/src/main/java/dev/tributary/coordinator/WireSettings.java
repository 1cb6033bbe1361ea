package dev.tributary.coordinator;

import dev.tributary.codec.Codec;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * How updates and models travel on the wire. Keys in the coordinator's YAML file, with their defaults:
 *
 * <pre>
 * codecs: [f16, bf16, int8, int4, fp8, topk, lossless]   # push codecs accepted (safetensors always is)
 * pull_delta_versions: 4     # past versions kept to answer pulls with only what changed; 0: whole models only
 * pull_delta_max_bytes: 0    # bytes those versions may hold together; 0: no bound beyond the count
 * </pre>
 *
 * A codec is named by its family (a spec {@code topk:fraction=0.01+int8} needs both {@code topk} and
 * {@code int8}). The past versions are whole models in native memory, on top of the receive budget.
 *
 * @param codecs            codec names accepted in pushes
 * @param pullDeltaVersions past versions kept for version-delta pulls
 * @param pullDeltaMaxBytes bound on their bytes; 0 for none
 */
public record WireSettings(Set<String> codecs, int pullDeltaVersions, long pullDeltaMaxBytes) {
    static final Set<String> KEYS = Set.of("codecs", "pull_delta_versions", "pull_delta_max_bytes");
    /** The most past versions that may be kept. */
    public static final int MAX_PULL_DELTA_VERSIONS = 64;

    public static final WireSettings DEFAULTS = new WireSettings(Set.copyOf(Codec.names()), 4, 0);

    public WireSettings {
        codecs = Set.copyOf(codecs);
        for (String c : codecs) {
            if (!Codec.names().contains(c)) {
                throw new IllegalArgumentException("codecs: unknown codec \"" + c + "\" (valid: "
                        + String.join(", ", Codec.names()) + ")");
            }
        }
        if (pullDeltaVersions < 0 || pullDeltaVersions > MAX_PULL_DELTA_VERSIONS) {
            throw new IllegalArgumentException("pull_delta_versions: must be in [0, " + MAX_PULL_DELTA_VERSIONS + "], got "
                    + pullDeltaVersions);
        }
        if (pullDeltaMaxBytes < 0) {
            throw new IllegalArgumentException("pull_delta_max_bytes: must be ≥ 0 (0 for no bound), got " + pullDeltaMaxBytes);
        }
    }

    /** Reads the keys of {@link #KEYS} present in {@code values} over {@link #DEFAULTS}. */
    static WireSettings from(Map<String, Object> values, ServiceLimits.Numbers numbers) {
        Set<String> codecs = DEFAULTS.codecs();
        Object c = values.get("codecs");
        if (c instanceof Collection<?> list) {
            codecs = new TreeSet<>();
            for (Object o : list) {
                codecs.add(String.valueOf(o));
            }
        } else if (c instanceof String s) {
            codecs = s.isBlank() ? Set.of() : new TreeSet<>(List.of(s.split("\\s*,\\s*")));
        } else if (c != null) {
            throw new IllegalArgumentException("codecs: must be a list of codec names, got \"" + c + "\"");
        }
        double versions = numbers.get("pull_delta_versions", DEFAULTS.pullDeltaVersions());
        double bytes = numbers.get("pull_delta_max_bytes", DEFAULTS.pullDeltaMaxBytes());
        if (versions != Math.rint(versions) || Math.abs(versions) > 1e6) {
            throw new IllegalArgumentException("pull_delta_versions: must be a whole number, got " + versions);
        }
        if (bytes != Math.rint(bytes) || Math.abs(bytes) > 1e18) {
            throw new IllegalArgumentException("pull_delta_max_bytes: must be a whole number, got " + bytes);
        }
        return new WireSettings(codecs, (int) versions, (long) bytes);
    }

    /** Whether every codec a spec chains (e.g. topk and int8) is accepted. */
    public boolean accepts(Codec codec) {
        for (String part : codec.spec().split("\\+")) {
            int colon = part.indexOf(':');
            if (!codecs.contains(colon < 0 ? part : part.substring(0, colon))) {
                return false;
            }
        }
        return true;
    }

    public WireSettings withCodecs(Set<String> c) {
        return new WireSettings(c, pullDeltaVersions, pullDeltaMaxBytes);
    }

    public WireSettings withPullDeltas(int versions, long maxBytes) {
        return new WireSettings(codecs, versions, maxBytes);
    }
}

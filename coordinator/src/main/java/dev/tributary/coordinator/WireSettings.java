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
 * codecs: [f16, bf16, int8, int4, fp8, fp4, topk, lossless]   # push codecs accepted (safetensors always is)
 * pull_delta_versions: 4     # past versions kept to answer pulls with only what changed; 0: whole models only
 * pull_delta_max_bytes: 0    # bytes those versions may hold together; 0: no bound beyond the count
 * ef21_max_workers: 1024     # EF21 estimates kept (one per worker and tensor set), least recently used evicted
 * ef21_max_bytes: 2147483648 # bytes those estimates may hold together; 0: no bound beyond the count
 * </pre>
 *
 * A codec is named by its family (a spec {@code topk:fraction=0.01+int8} needs both {@code topk} and
 * {@code int8}). The past versions are whole models in native memory, on top of the receive budget.
 *
 * @param codecs            codec names accepted in pushes
 * @param pullDeltaVersions past versions kept for version-delta pulls
 * @param pullDeltaMaxBytes bound on their bytes; 0 for none
 * @param ef21MaxWorkers    EF21 estimates kept in memory (an evicted one is rebuilt from 0 by the reset protocol)
 * @param ef21MaxBytes      bound on their bytes; 0 for none beyond the count
 */
public record WireSettings(Set<String> codecs, int pullDeltaVersions, long pullDeltaMaxBytes, int ef21MaxWorkers,
        long ef21MaxBytes) {
    static final Set<String> KEYS = Set.of("codecs", "pull_delta_versions", "pull_delta_max_bytes", "ef21_max_workers",
            "ef21_max_bytes");
    /** The most EF21 estimates that may be kept. */
    public static final int MAX_EF21_WORKERS = 1_000_000;
    /** The most past versions that may be kept. */
    public static final int MAX_PULL_DELTA_VERSIONS = 64;

    public static final WireSettings DEFAULTS = new WireSettings(Set.copyOf(Codec.names()), 4, 0, 1024, 2L << 30);

    /** The default EF21 bounds. */
    public WireSettings(Set<String> codecs, int pullDeltaVersions, long pullDeltaMaxBytes) {
        this(codecs, pullDeltaVersions, pullDeltaMaxBytes, 1024, 2L << 30);
    }

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
        if (ef21MaxWorkers < 1 || ef21MaxWorkers > MAX_EF21_WORKERS) {
            throw new IllegalArgumentException("ef21_max_workers: must be in [1, " + MAX_EF21_WORKERS + "], got " + ef21MaxWorkers);
        }
        if (ef21MaxBytes < 0) {
            throw new IllegalArgumentException("ef21_max_bytes: must be ≥ 0 (0 for no bound), got " + ef21MaxBytes);
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
        double versions = whole(numbers, "pull_delta_versions", DEFAULTS.pullDeltaVersions(), 1e6);
        double bytes = whole(numbers, "pull_delta_max_bytes", DEFAULTS.pullDeltaMaxBytes(), 1e18);
        double ef21Workers = whole(numbers, "ef21_max_workers", DEFAULTS.ef21MaxWorkers(), 1e9);
        double ef21Bytes = whole(numbers, "ef21_max_bytes", DEFAULTS.ef21MaxBytes(), 1e18);
        return new WireSettings(codecs, (int) versions, (long) bytes, (int) ef21Workers, (long) ef21Bytes);
    }

    /** {@code key}'s value (or {@code dflt}), refused naming the key unless a whole number of magnitude ≤ {@code bound}. */
    private static double whole(ServiceLimits.Numbers numbers, String key, double dflt, double bound) {
        double v = numbers.get(key, dflt);
        if (v != Math.rint(v) || Math.abs(v) > bound) {
            throw new IllegalArgumentException(key + ": must be a whole number, got " + v);
        }
        return v;
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
        return new WireSettings(c, pullDeltaVersions, pullDeltaMaxBytes, ef21MaxWorkers, ef21MaxBytes);
    }

    public WireSettings withPullDeltas(int versions, long maxBytes) {
        return new WireSettings(codecs, versions, maxBytes, ef21MaxWorkers, ef21MaxBytes);
    }

    public WireSettings withEf21Bounds(int workers, long maxBytes) {
        return new WireSettings(codecs, pullDeltaVersions, pullDeltaMaxBytes, workers, maxBytes);
    }
}

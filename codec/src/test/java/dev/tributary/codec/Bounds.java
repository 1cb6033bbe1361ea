package dev.tributary.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * Each lossy codec's per-element error bound, computed from the input alone (an independent reference,
 * not the codec's own code).
 */
final class Bounds {
    private Bounds() {}

    /** Asserts that {@code y} is an allowed decoding of {@code x} (shape {@code shape}) under {@code spec}. */
    static void check(String spec, float[] x, long[] shape, float[] y) {
        assertEquals(x.length, y.length, spec + ": length");
        int stage = spec.indexOf("+lossless");
        if (stage >= 0) {
            // The lossless stage decodes to the lossy codec's values: the same bound.
            spec = spec.substring(0, stage);
        }
        String[] parts = spec.split("\\+", 2);
        String name = parts[0].split(":")[0];
        switch (name) {
            case "f16" -> each(spec, x, y, (v, i) -> Math.abs(v) >= 0x1p-14f ? 0x1p-11 * Math.abs(v) : 0x1p-25);
            case "bf16" -> each(spec, x, y, (v, i) -> 0x1p-8 * Math.abs(v));
            case "int8", "int4" -> {
                int group = param(parts[0], "group", 64);
                float qmax = name.equals("int8") ? 127f : 7f;
                each(spec, x, y, (v, i) -> slack(groupMax(x, i, group) / qmax / 2));
            }
            case "fp4" -> {
                // Half the E2M1 spacing around |x| / scale: 0.5 below 2, 1 below 4, 2 up to 6.
                int group = param(parts[0], "group", 32);
                each(spec, x, y, (v, i) -> {
                    double scale = groupMax(x, i, group) / 6.0;
                    double q = Math.abs(v) / scale;
                    return slack(scale * (q < 2 ? 0.25 : q < 4 ? 0.5 : 1));
                });
            }
            case "fp8" -> {
                long c = shape.length >= 2 ? shape[shape.length - 1] : x.length;
                each(spec, x, y, (v, i) -> slack(0x1p-4 * Math.abs(v) + 0x1p-10 * groupMax(x, i, (int) c) / 448));
            }
            case "topk" -> checkTopK(spec, parts, x, y);
            default -> throw new IllegalArgumentException(spec);
        }
    }

    private static void checkTopK(String spec, String[] parts, float[] x, float[] y) {
        double fraction = Double.parseDouble(parts[0].substring(parts[0].indexOf('=') + 1));
        int k = (int) Math.min(x.length, Math.ceil(fraction * x.length));
        int[] kept = IntStream.range(0, x.length).boxed()
                .sorted(Comparator.comparingDouble((Integer i) -> -Math.abs(x[i])).thenComparingInt(i -> i))
                .limit(k).mapToInt(Integer::intValue).sorted().toArray();
        boolean[] in = new boolean[x.length];
        for (int i : kept) {
            in[i] = true;
        }
        float[] keptX = new float[k];
        float[] keptY = new float[k];
        for (int j = 0; j < k; j++) {
            keptX[j] = x[kept[j]];
            keptY[j] = y[kept[j]];
        }
        for (int i = 0; i < x.length; i++) {
            if (!in[i]) {
                assertEquals(0f, y[i], spec + ": dropped element " + i + " decodes to zero");
            }
        }
        if (parts.length == 1) {
            assertTrue(Arrays.equals(keptX, keptY), spec + ": kept values are exact");
        } else {
            check(parts[1], keptX, new long[] {k}, keptY);
        }
    }

    interface Bound {
        double at(float v, int i);
    }

    private static void each(String spec, float[] x, float[] y, Bound b) {
        for (int i = 0; i < x.length; i++) {
            double err = Math.abs((double) y[i] - x[i]);
            double bound = b.at(x[i], i);
            if (!(err <= bound)) {
                throw new AssertionError(spec + ": element " + i + " = " + x[i] + " decoded to " + y[i] + ", error "
                        + err + " > bound " + bound);
            }
        }
    }

    /** Room for the f32 rounding of the division and multiplication around the exact bound. */
    private static double slack(double bound) {
        return bound * (1 + 1e-5) + Float.MIN_NORMAL;
    }

    private static float groupMax(float[] x, int i, int group) {
        int from = i / group * group;
        float m = 0;
        for (int j = from; j < Math.min(x.length, from + group); j++) {
            m = Math.max(m, Math.abs(x[j]));
        }
        return m;
    }

    private static int param(String part, String key, int dflt) {
        int at = part.indexOf(key + "=");
        return at < 0 ? dflt : Integer.parseInt(part.substring(at + key.length() + 1).split(",")[0]);
    }
}

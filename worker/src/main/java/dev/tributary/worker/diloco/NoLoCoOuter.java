package dev.tributary.worker.diloco;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * NoLoCo's outer optimizer (Kolehmainen et al. 2025, eq. 2) for one worker i: its outer (slow) weights φᵢ
 * and momentum Δᵢ, stepped once per H inner steps with the group G of itself and the peers it heard from
 * (n = |G|, one peer in NoLoCo; none leaves the worker alone). With θ the fast weights after the inner
 * steps and δₖ = φₖ − θₖ each member's outer gradient:
 *
 * <pre>
 *   Δᵢ ← α·Δᵢ − β·(1/n)·Σₖ δₖ − γ·(φᵢ − (1/n)·Σₖ φₖ)
 *   φᵢ ← φᵢ + Δᵢ,   and the fast weights restart from φᵢ
 * </pre>
 *
 * Δ starts at 0. All arithmetic is f32 in this order, per element. Not thread-safe.
 */
public final class NoLoCoOuter {
    private final double momentum;
    private final double outerLr;
    private final double peerPull;
    private final List<String> names;
    private final Map<String, long[]> shapes = new LinkedHashMap<>();
    private final Map<String, float[]> outer = new LinkedHashMap<>();
    private final Map<String, float[]> velocity = new LinkedHashMap<>();

    /** Starts at φ = {@code initial} (copied), Δ = 0. */
    public NoLoCoOuter(TensorMap initial, double momentum, double outerLr, double peerPull) {
        this.momentum = momentum;
        this.outerLr = outerLr;
        this.peerPull = peerPull;
        this.names = List.copyOf(initial.names());
        for (String n : names) {
            float[] v = initial.tensor(n).toFloatArray();
            shapes.put(n, initial.tensor(n).shape());
            outer.put(n, v);
            velocity.put(n, new float[v.length]);
        }
    }

    /** The tensor names, in order. */
    public List<String> names() {
        return names;
    }

    /** A copy of φ. */
    public TensorMap outer() {
        return tensors(outer);
    }

    /** A copy of Δ. */
    public TensorMap momentumBuffer() {
        return tensors(velocity);
    }

    /** δ = φ − θ for the fast weights {@code fast}. */
    public TensorMap outerGradient(TensorMap fast) {
        TensorMap out = new TensorMap();
        for (String n : names) {
            float[] p = outer.get(n);
            float[] t = values(fast, n, p.length);
            float[] d = new float[p.length];
            for (int k = 0; k < d.length; k++) {
                d[k] = p[k] - t[k];
            }
            out.put(n, Tensor.ofFloats(shapes.get(n), d));
        }
        return out;
    }

    /**
     * One outer step from the fast weights {@code fast} with the peers' outer weights and outer gradients
     * ({@code peerOuter.get(k)} with {@code peerGradient.get(k)}; empty lists step alone).
     *
     * @return the new φ (a copy), where the fast weights restart
     */
    public TensorMap step(TensorMap fast, List<TensorMap> peerOuter, List<TensorMap> peerGradient) {
        if (peerOuter.size() != peerGradient.size()) {
            throw new IllegalArgumentException("peer outer weights " + peerOuter.size() + " != peer outer gradients "
                    + peerGradient.size());
        }
        float inv = 1f / (1 + peerOuter.size());
        float a = (float) momentum;
        float b = (float) outerLr;
        float g = (float) peerPull;
        for (String n : names) {
            float[] p = outer.get(n);
            float[] t = values(fast, n, p.length);
            float[] sumOuter = p.clone();
            float[] sumGrad = new float[p.length];
            for (int k = 0; k < p.length; k++) {
                sumGrad[k] = p[k] - t[k];
            }
            for (int j = 0; j < peerOuter.size(); j++) {
                float[] po = values(peerOuter.get(j), n, p.length);
                float[] pg = values(peerGradient.get(j), n, p.length);
                for (int k = 0; k < p.length; k++) {
                    sumOuter[k] += po[k];
                    sumGrad[k] += pg[k];
                }
            }
            float[] v = velocity.get(n);
            for (int k = 0; k < p.length; k++) {
                v[k] = a * v[k] - b * (sumGrad[k] * inv) - g * (p[k] - sumOuter[k] * inv);
                p[k] += v[k];
            }
        }
        return outer();
    }

    private TensorMap tensors(Map<String, float[]> values) {
        TensorMap out = new TensorMap();
        for (String n : names) {
            out.put(n, Tensor.ofFloats(shapes.get(n), values.get(n).clone()));
        }
        return out;
    }

    private static float[] values(TensorMap m, String name, int length) {
        if (!m.contains(name)) {
            throw new IllegalArgumentException("tensor " + name + ": missing");
        }
        float[] v = m.tensor(name).toFloatArray();
        if (v.length != length) {
            throw new IllegalArgumentException("tensor " + name + ": " + v.length + " elements != " + length);
        }
        return v;
    }
}

package dev.tributary.sim;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.InnerOptimizer;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.Replica;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * torchft's DiLoCo regression model: scalar tensors {@code f0} and {@code f1} starting at 1, whose
 * gradient is always 2, trained by plain SGD at the inner optimizer's lr, one example per step. Records
 * what every replica is assigned at its merges.
 */
final class ConstantGradient implements LocalTrainer {
    static final float GRADIENT = 2;

    /** Per replica opened, in order: the tensors of each {@link Replica#assign}, as name → value. */
    final List<List<Map<String, Float>>> assigned = Collections.synchronizedList(new ArrayList<>());

    static TensorMap model() {
        return new TensorMap().put("f0", Tensor.ofFloats(new long[] {1}, 1f)).put("f1", Tensor.ofFloats(new long[] {1}, 1f));
    }

    @Override
    public TrainResult train(TensorMap weights, TrainPlan plan) {
        throw new UnsupportedOperationException("the fixture runs DiLoCo's inner loop only");
    }

    @Override
    public Replica open(TensorMap weights, InnerOptimizer optimizer, long seed) {
        if (optimizer.isAdamW() || optimizer.momentum() != 0 || optimizer.weightDecay() != 0) {
            throw new IllegalArgumentException("the fixture's inner optimizer is plain SGD, got " + optimizer);
        }
        List<Map<String, Float>> log = Collections.synchronizedList(new ArrayList<>());
        assigned.add(log);
        float lr = (float) optimizer.lr();
        float[] w = {weights.tensor("f0").getFloat(0), weights.tensor("f1").getFloat(0)};
        return new Replica() {
            @Override
            public TrainResult train(int steps) {
                for (int s = 0; s < steps; s++) {
                    w[0] -= lr * GRADIENT;
                    w[1] -= lr * GRADIENT;
                }
                return new TrainResult(new TensorMap(), steps, steps, Map.of("loss", 0.0));
            }

            @Override
            public TensorMap weights(List<String> names) {
                TensorMap out = new TensorMap();
                names.forEach(n -> out.put(n, Tensor.ofFloats(new long[] {1}, w[index(n)])));
                return out;
            }

            @Override
            public void assign(TensorMap tensors) {
                Map<String, Float> seen = new java.util.TreeMap<>();
                for (String n : tensors.names()) {
                    w[index(n)] = tensors.tensor(n).getFloat(0);
                    seen.put(n, w[index(n)]);
                }
                log.add(seen);
            }

            @Override
            public void close() {}
        };
    }

    private static int index(String name) {
        return switch (name) {
            case "f0" -> 0;
            case "f1" -> 1;
            default -> throw new IllegalArgumentException("tensor " + name + ": not in the fixture");
        };
    }

    /** The diloco settings of the fixture: 2 replicas, H = 6, 2 fragments, outer SGD lr 2, inner SGD lr 1. */
    static Map<String, Object> strategy(double alpha, int delay) {
        return Map.of("workers", 2, "fragments", 2, "inner_steps", 6, "mixing_alpha", alpha, "sync_delay", delay,
                "optimizer", Map.of("name", "sgd", "lr", 2), "inner_optimizer", Map.of("name", "sgd", "lr", 1));
    }
}

package dev.tributary.train.synthetic;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.Task;
import dev.tributary.train.Tasks;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import org.junit.jupiter.api.Test;

class SyntheticLogRegTest {
    final Task task = Tasks.byName("synthetic-logreg");

    static TensorMap plus(TensorMap w, TensorMap delta) {
        TensorMap out = new TensorMap();
        for (String n : w.names()) {
            float[] a = w.tensor(n).toFloatArray();
            float[] d = delta.tensor(n).toFloatArray();
            for (int i = 0; i < a.length; i++) {
                a[i] += d[i];
            }
            out.put(n, Tensor.ofFloats(w.tensor(n).shape(), a));
        }
        return out;
    }

    @Test
    void trainingFromTheInitialModelLearnsTheHiddenFunction() {
        TensorMap w = task.initialModel(0);
        double before = task.evaluate(w).get("loss");
        try (LocalTrainer t = task.trainer(0, 2, 1)) {
            for (int round = 0; round < 20; round++) {
                TrainResult r = t.train(w, task.defaultPlan(round));
                assertEquals(20, r.steps());
                assertEquals(20 * 32, r.examples());
                w = plus(w, r.delta());
            }
        }
        double after = task.evaluate(w).get("loss");
        assertTrue(after < before * 0.6, before + " -> " + after);
        assertTrue(task.evaluate(w).get("accuracy") > 0.8, task.evaluate(w).toString());
    }

    @Test
    void theSameSeedsGiveTheSameDeltaAndTheGivenWeightsAreNotChanged() {
        TensorMap w = task.initialModel(3);
        float[] original = w.tensor("linear.weight").toFloatArray();
        TrainResult a;
        TrainResult b;
        try (LocalTrainer t1 = task.trainer(1, 3, 7); LocalTrainer t2 = task.trainer(1, 3, 7)) {
            a = t1.train(w, TrainPlan.epochs(1, 5));
            b = t2.train(w, TrainPlan.epochs(1, 5));
        }
        assertTrue(a.delta().tensor("linear.weight").contentEquals(b.delta().tensor("linear.weight")));
        assertTrue(a.delta().tensor("linear.bias").contentEquals(b.delta().tensor("linear.bias")));
        assertEquals(16, a.steps());
        assertTrue(Tensor.ofFloats(new long[] {1, 16}, original).contentEquals(w.tensor("linear.weight")));
        assertTrue(task.initialModel(3).tensor("linear.weight").contentEquals(w.tensor("linear.weight")));
    }

    @Test
    void refusesAModelOfAnotherTaskAndUnknownTaskNames() {
        TensorMap wrong = new TensorMap().put("linear.weight", Tensor.ofFloats(new long[] {2}, 1, 2))
                .put("linear.bias", Tensor.ofFloats(new long[] {1}, 0));
        try (LocalTrainer t = task.trainer(0, 1, 0)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.train(wrong, TrainPlan.steps(1, 0)));
            assertTrue(e.getMessage().startsWith("tensor linear.weight:"), e.getMessage());
        }
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Tasks.byName("nope")).getMessage().contains("synthetic-logreg"));
        assertThrows(IllegalArgumentException.class, () -> task.trainer(2, 2, 0));
    }

    @Test
    void aReplicaWithPlainSgdTrainsAsTrainDoesAndAdamWLearnsToo() {
        TensorMap w = task.initialModel(0);
        try (LocalTrainer t = task.trainer(0, 2, 1)) {
            TrainResult r = t.train(w, TrainPlan.steps(12, 3));
            TensorMap viaTrain = plus(w, r.delta());
            try (dev.tributary.worker.Replica replica = t.open(w, dev.tributary.worker.InnerOptimizer.sgd(0.1, 0, 0), 3)) {
                replica.train(5);
                replica.train(7);
                TensorMap viaReplica = replica.weights(w.names());
                for (String n : w.names()) {
                    float[] a = viaTrain.tensor(n).toFloatArray();
                    float[] b = viaReplica.tensor(n).toFloatArray();
                    for (int i = 0; i < a.length; i++) {
                        assertEquals(a[i], b[i], 1e-6f, n + "[" + i + "]");
                    }
                }
            }
            double before = task.evaluate(w).get("loss");
            try (dev.tributary.worker.Replica replica = t.open(w, dev.tributary.worker.InnerOptimizer.adamw(0.05, 0.1, 0.9, 0.95), 3)) {
                replica.train(200);
                assertTrue(task.evaluate(replica.weights(w.names())).get("loss") < before * 0.7);
            }
        }
    }
}

package com.example.moons;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.Task;
import dev.tributary.train.Tasks;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainResult;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The user's task is found without any change to Tributary, and its model learns through the SPI. */
class MoonsTaskTest {
    @Test
    void isFoundThroughServiceLoaderBesideTheBuiltInTasks() {
        assertTrue(Tasks.names().contains("moons"), Tasks.names().toString());
        assertTrue(Tasks.names().contains("synthetic-logreg"));
        assertEquals(MoonsTask.class, Tasks.byName("moons").getClass());
    }

    @Test
    void twoWorkersAveragingDeltasLearnTheMoons() {
        Task task = Tasks.byName("moons");
        TensorMap global = task.initialModel(1);
        double before = task.evaluate(global).get("accuracy");
        List<LocalTrainer> workers = List.of(task.trainer(0, 2, 1), task.trainer(1, 2, 2));
        try {
            for (int round = 0; round < 12; round++) {
                List<TrainResult> results = new ArrayList<>();
                for (LocalTrainer w : workers) {
                    results.add(w.train(global, task.defaultPlan(round)));
                }
                TensorMap next = new TensorMap();
                for (String n : global.names()) {
                    Tensor g = global.tensor(n);
                    float[] v = new float[(int) g.numel()];
                    for (int k = 0; k < v.length; k++) {
                        double mean = 0;
                        for (TrainResult r : results) {
                            mean += r.delta().tensor(n).getFloat(k) / results.size();
                        }
                        v[k] = (float) (g.getFloat(k) + mean);
                    }
                    next.put(n, Tensor.ofFloats(g.shape(), v));
                }
                global = next;
                assertTrue(Double.isFinite(results.getFirst().metrics().get("loss")));
            }
        } finally {
            workers.forEach(LocalTrainer::close);
        }
        double after = task.evaluate(global).get("accuracy");
        assertTrue(before < 0.8, "an untrained model is near chance: " + before);
        assertTrue(after > 0.9, "accuracy after 12 rounds: " + after);
    }
}

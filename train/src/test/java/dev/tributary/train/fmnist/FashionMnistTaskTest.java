package dev.tributary.train.fmnist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.Task;
import dev.tributary.train.Tasks;
import dev.tributary.train.data.FashionMnist;
import dev.tributary.train.djl.DjlTrainer;
import dev.tributary.train.partition.Partitioner;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainResult;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FashionMnistTaskTest {

    private static void assumeData() {
        Assumptions.assumeTrue(FashionMnist.available(FashionMnist.DEFAULT_DIR),
                "Fashion-MNIST not found in " + FashionMnist.DEFAULT_DIR + " (Debian package dataset-fashion-mnist)");
    }

    @Test
    void bothTasksAreRegistered() {
        for (String name : new String[] {FashionMnistTask.MLP, FashionMnistTask.CNN}) {
            Task t = Tasks.byName(name);
            assertEquals(name, t.name());
            assertTrue(Tasks.names().contains(name));
            TensorMap a = t.initialModel(3);
            TensorMap b = t.initialModel(3);
            for (String n : a.names()) {
                assertTrue(a.tensor(n).contentEquals(b.tensor(n)), n);
            }
        }
        assertEquals(4, Tasks.byName(FashionMnistTask.MLP).initialModel(0).size());
        assertEquals(8, Tasks.byName(FashionMnistTask.CNN).initialModel(0).size());
    }

    @Test
    void workersShareTheTrainingSet() {
        assumeData();
        Task task = FashionMnistTask.mlp();
        long total = 0;
        for (int w = 0; w < 4; w++) {
            try (LocalTrainer t = task.trainer(w, 4, 0)) {
                total += ((DjlTrainer) t).examples();
            }
        }
        assertEquals(60_000, total);
        assertEquals("worker 4 of 4: needs 0 <= worker < workers",
                assertThrows(IllegalArgumentException.class, () -> task.trainer(4, 4, 0)).getMessage());
    }

    @Test
    void oneDefaultUpdateOfAWorkerLearns() {
        assumeData();
        Task task = FashionMnistTask.mlp().withPartition(Partitioner.iid(), 0);
        TensorMap w = task.initialModel(0);
        Map<String, Double> before = task.evaluate(w);
        TrainResult r;
        try (LocalTrainer trainer = task.trainer(0, 10, 0)) {
            r = trainer.train(w, task.defaultPlan(1));
        }
        assertEquals(6000, r.examples());
        Map<String, Double> after = task.evaluate(add(w, r.delta()));
        assertTrue(before.get("accuracy") < 0.25, before.toString());
        assertTrue(after.get("accuracy") > 0.75, after.toString());
        assertTrue(after.get("loss") < before.get("loss"), before + " -> " + after);
    }

    @Test
    void missingDataIsExplained(@TempDir Path empty) {
        Task task = FashionMnistTask.cnn(empty);
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> task.trainer(0, 1, 0));
        assertTrue(e.getMessage().contains("install Debian's dataset-fashion-mnist or pass --data DIR"), e.getMessage());
        assertTrue(task.description().startsWith("Fashion-MNIST, cnn-28-16-32-128-10"), task.description());
    }

    private static TensorMap add(TensorMap weights, TensorMap delta) {
        TensorMap out = new TensorMap();
        for (String n : weights.names()) {
            float[] a = weights.tensor(n).toFloatArray();
            float[] d = delta.tensor(n).toFloatArray();
            for (int i = 0; i < a.length; i++) {
                a[i] += d[i];
            }
            out.put(n, Tensor.ofFloats(weights.tensor(n).shape(), a));
        }
        return out;
    }
}

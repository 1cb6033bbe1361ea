package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.TensorMap;
import dev.tributary.train.Task;
import dev.tributary.train.fmnist.FashionMnistTask;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TaskOptionsTest {
    @Test
    void plainNameGivesTheRegisteredTask() {
        assertEquals("synthetic-logreg", TaskOptions.resolve("synthetic-logreg", null, null).name());
    }

    @Test
    void unknownTaskIsAUserError() {
        UserException e = assertThrows(UserException.class, () -> TaskOptions.resolve("mnist-xl", null, null));
        assertTrue(e.getMessage().contains("mnist-xl"), e.getMessage());
    }

    @Test
    void partitionAppliesToFashionMnistOnly() {
        Task t = TaskOptions.resolve("fmnist-mlp", null, "iid");
        assertTrue(t instanceof FashionMnistTask);
        UserException e = assertThrows(UserException.class, () -> TaskOptions.resolve("synthetic-logreg", null, "iid"));
        assertTrue(e.getMessage().contains("synthetic-logreg"), e.getMessage());
    }

    @Test
    void badPartitionSpecIsNamed() {
        UserException e = assertThrows(UserException.class, () -> TaskOptions.resolve("fmnist-mlp", null, "zipf:2"));
        assertTrue(e.getMessage().startsWith("--partition zipf:2"), e.getMessage());
    }

    @Test
    void missingDataFolderIsNamed(@TempDir Path dir) {
        Path none = dir.resolve("none");
        UserException e = assertThrows(UserException.class, () -> TaskOptions.resolve("fmnist-mlp", none, null));
        assertTrue(e.getMessage().contains(none.toString()), e.getMessage());
    }

    @Test
    void slowdownOfOneIsTheTrainerItselfAndBelowOneIsRefused() {
        LocalTrainer plain = (w, p) -> new TrainResult(new TensorMap(), 3, 1, Map.of("loss", 0.5));
        assertSame(plain, SlowedTrainer.wrap(plain, 1));
        assertThrows(IllegalArgumentException.class, () -> SlowedTrainer.wrap(plain, 0.5));
        TrainResult r = SlowedTrainer.wrap(plain, 1.5).train(new TensorMap(), TrainPlan.steps(1, 0));
        assertEquals(3, r.examples());
        assertEquals(0.5, r.metrics().get("loss"));
    }
}

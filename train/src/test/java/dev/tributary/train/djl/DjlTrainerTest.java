package dev.tributary.train.djl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.data.LabeledImages;
import dev.tributary.worker.InnerOptimizer;
import dev.tributary.worker.Replica;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import java.lang.foreign.Arena;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class DjlTrainerTest {
    private static final Architecture MLP = new Architecture.Mlp(16 * 16, 32, 4);
    private static final LabeledImages DATA = SyntheticImages.bands(200, 16, 4, 7);
    private static DjlTrainer trainer;

    @BeforeAll
    static void open() {
        trainer = new DjlTrainer(new TrainerConfig(MLP, OptimizerConfig.sgd(0.05f, 0.9f), 16,
                Standardization.FASHION_MNIST), DATA);
    }

    @AfterAll
    static void close() {
        trainer.close();
    }

    @Test
    void deltaIsTrainedMinusGiven() {
        TensorMap initial = MLP.init(1);
        try (DjlTrainer.Run run = trainer.start(initial, 3)) {
            for (int i = 0; i < 12; i++) {
                run.step();
            }
            TensorMap trained = run.weights();
            TrainResult result = run.finish();
            for (String name : initial.names()) {
                float[] w0 = initial.tensor(name).toFloatArray();
                float[] w1 = trained.tensor(name).toFloatArray();
                float[] d = result.delta().tensor(name).toFloatArray();
                boolean moved = false;
                for (int i = 0; i < d.length; i++) {
                    assertEquals(w1[i] - w0[i], d[i], 0f, name + "[" + i + "]");
                    moved |= d[i] != 0f;
                }
                assertTrue(moved, name + " did not change");
            }
            assertEquals(12, result.steps());
            assertEquals(12 * 16, result.examples());
        }
    }

    @Test
    void givenWeightsAreNotModified() {
        TensorMap initial = MLP.init(2);
        TensorMap copy = new TensorMap();
        initial.asMap().forEach((n, t) -> copy.put(n, t.copy(Arena.ofAuto())));
        trainer.train(initial, TrainPlan.steps(5, 0));
        for (String name : initial.names()) {
            assertTrue(initial.tensor(name).contentEquals(copy.tensor(name)), name);
        }
    }

    @Test
    void sameSeedSameDeltaOtherSeedOtherDelta() {
        TensorMap initial = MLP.init(4);
        TrainResult a = trainer.train(initial, TrainPlan.steps(6, 11));
        TrainResult b = trainer.train(initial, TrainPlan.steps(6, 11));
        TrainResult c = trainer.train(initial, TrainPlan.steps(6, 12));
        for (String name : initial.names()) {
            assertArrayEquals(a.delta().tensor(name).toFloatArray(), b.delta().tensor(name).toFloatArray(), name);
        }
        assertFalse(Arrays.equals(a.delta().tensor("fc1.weight").toFloatArray(),
                c.delta().tensor("fc1.weight").toFloatArray()));
    }

    @Test
    void epochsCoverTheDataWithAPartialLastBatch() {
        TrainResult r = trainer.train(MLP.init(5), TrainPlan.epochs(2, 1));
        int perEpoch = (200 + 15) / 16;
        assertEquals(perEpoch, trainer.stepsPerEpoch());
        assertEquals(2 * perEpoch, r.steps());
        assertEquals(2 * 200, r.examples());
        assertTrue(Double.isFinite(r.metrics().get("loss")));
    }

    @Test
    void trainingLowersTheLossOnALearnableTask() {
        TensorMap w = MLP.init(6);
        try (Evaluator eval = new Evaluator(MLP, DATA, Standardization.FASHION_MNIST, 64)) {
            Evaluation before = eval.evaluate(w);
            TrainResult r = trainer.train(w, TrainPlan.epochs(3, 2));
            TensorMap after = FashionMnistTrainingTest.apply(w, r.delta());
            Evaluation trained = eval.evaluate(after);
            assertTrue(trained.loss() < before.loss() / 2, before + " -> " + trained);
            assertTrue(trained.accuracy() > 0.95, trained.toString());
            assertEquals(200, trained.examples());
        }
    }

    @Test
    void bf16WeightsGiveABf16Delta() {
        TensorMap f32 = MLP.init(8);
        TensorMap bf16 = new TensorMap();
        f32.asMap().forEach((n, t) -> bf16.put(n, t.castTo(DType.BF16, Arena.ofAuto())));
        TrainResult r = trainer.train(bf16, TrainPlan.steps(3, 0));
        for (String n : f32.names()) {
            assertEquals(DType.BF16, r.delta().tensor(n).dtype(), n);
            assertArrayEquals(f32.tensor(n).shape(), r.delta().tensor(n).shape(), n);
        }
    }

    @Test
    void rejectsWeightsThatDoNotFit() {
        TensorMap w = MLP.init(9);
        w.put("fc2.bias", Tensor.ofFloats(new long[] {5}, 0, 0, 0, 0, 0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> trainer.train(w, TrainPlan.steps(1, 0)));
        assertEquals("tensor fc2.bias: shape [5] != [4]", e.getMessage());

        TensorMap missing = MLP.init(9);
        TensorMap partial = new TensorMap();
        missing.asMap().forEach((n, t) -> {
            if (!n.equals("fc1.bias")) {
                partial.put(n, t);
            }
        });
        e = assertThrows(IllegalArgumentException.class, () -> trainer.train(partial, TrainPlan.steps(1, 0)));
        assertEquals("mlp-256-32-4: missing tensor fc1.bias", e.getMessage());

        TensorMap extra = MLP.init(9).put("fc3.weight", Tensor.ofFloats(new long[] {1}, 0));
        e = assertThrows(IllegalArgumentException.class, () -> trainer.train(extra, TrainPlan.steps(1, 0)));
        assertTrue(e.getMessage().startsWith("mlp-256-32-4: unexpected tensor fc3.weight"), e.getMessage());
    }

    @Test
    void rejectsImagesOfTheWrongSize() {
        LabeledImages small = SyntheticImages.bands(4, 8, 4, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new DjlTrainer(TrainerConfig.fashion(MLP), small));
        assertEquals("images of 8x8 = 64 pixels do not fit a network of 256 inputs", e.getMessage());
    }

    @Test
    void aReplicaKeepsItsAdamWStateAcrossCallsAndTakesAssignedTensors() {
        TensorMap initial = MLP.init(2);
        InnerOptimizer adamw = InnerOptimizer.diloco();
        TensorMap split;
        try (Replica r = trainer.open(initial, adamw, 5)) {
            assertEquals(4, r.train(4).steps());
            assertEquals(6, r.train(6).steps());
            split = r.weights(initial.names());
        }
        TensorMap whole;
        try (Replica r = trainer.open(initial, adamw, 5)) {
            r.train(10);
            whole = r.weights(initial.names());
        }
        // Ten steps in two calls are ten steps of one optimizer: bit-identical.
        for (String name : initial.names()) {
            assertTrue(whole.tensor(name).contentEquals(split.tensor(name)), name);
        }
        try (Replica r = trainer.open(initial, adamw, 5)) {
            String first = initial.names().getFirst();
            TensorMap one = new TensorMap().put(first, whole.tensor(first));
            r.assign(one);
            assertTrue(whole.tensor(first).contentEquals(r.weights(java.util.List.of(first)).tensor(first)));
            assertTrue(initial.tensor(initial.names().get(1)).contentEquals(
                    r.weights(java.util.List.of(initial.names().get(1))).tensor(initial.names().get(1))));
        }
    }
}

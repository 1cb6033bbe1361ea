package dev.tributary.train.djl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.data.FashionMnist;
import dev.tributary.train.data.LabeledImages;
import dev.tributary.train.partition.Partitioner;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import java.io.IOException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Real training on Fashion-MNIST; skipped with a message when the data set is not installed. */
class FashionMnistTrainingTest {
    private static FashionMnist data;
    private static LabeledImages subset;
    private static Evaluator mlpEval;

    @BeforeAll
    static void load() throws IOException {
        Assumptions.assumeTrue(FashionMnist.available(FashionMnist.DEFAULT_DIR),
                "Fashion-MNIST not found in " + FashionMnist.DEFAULT_DIR + " (Debian package dataset-fashion-mnist)");
        data = FashionMnist.load();
        int[] part = Partitioner.iid().split(data.train().labelArray(), 10, 0)[0];
        subset = data.train().subset(part);
        mlpEval = new Evaluator(Architecture.fashionMlp(), data.test(), Standardization.FASHION_MNIST, 1000);
    }

    @AfterAll
    static void close() {
        if (mlpEval != null) {
            mlpEval.close();
        }
    }

    @Test
    void untrainedMlpIsAtChance() {
        Evaluation e = mlpEval.evaluate(Architecture.fashionMlp().init(0));
        assertEquals(10_000, e.examples());
        assertTrue(e.accuracy() < 0.25, e.toString());
        assertTrue(Math.abs(e.loss() - Math.log(10)) < 0.5, e.toString());
    }

    @Test
    void mlpLearnsFromSixThousandImages() {
        Architecture mlp = Architecture.fashionMlp();
        TensorMap w = mlp.init(0);
        try (DjlTrainer trainer = new DjlTrainer(TrainerConfig.fashion(mlp), subset)) {
            TrainResult r = trainer.train(w, TrainPlan.steps(400, 1));
            assertEquals(400, r.steps());
            // 6,000 images in batches of 32: two epochs of 188 steps (the last of 16), then 24 full steps.
            assertEquals(188, trainer.stepsPerEpoch());
            assertEquals(2 * 6000 + 24 * 32, r.examples());
            Evaluation e = mlpEval.evaluate(apply(w, r.delta()));
            assertTrue(e.accuracy() > 0.75, e.toString());
            assertTrue(e.loss() < 0.8, e.toString());
        }
    }

    @Test
    void cnnLearnsFromSixThousandImages() {
        Architecture cnn = Architecture.fashionCnn();
        TensorMap w = cnn.init(0);
        try (DjlTrainer trainer = new DjlTrainer(TrainerConfig.fashion(cnn), subset);
                Evaluator eval = new Evaluator(cnn, data.test().head(2000), Standardization.FASHION_MNIST, 500)) {
            TrainResult r = trainer.train(w, TrainPlan.steps(200, 1));
            Evaluation e = eval.evaluate(apply(w, r.delta()));
            assertTrue(e.accuracy() > 0.7, e.toString());
        }
    }

    static TensorMap apply(TensorMap weights, TensorMap delta) {
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

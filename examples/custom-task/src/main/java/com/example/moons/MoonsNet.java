package com.example.moons;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import ai.djl.util.Pair;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.util.List;

/**
 * The user's own DJL model: a 2-32-2 MLP as a {@link SequentialBlock}, trained with DJL's own
 * {@link Trainer}. What Tributary needs from it is only a way to put weights in and take them out, under
 * stable names ({@link #NAMES}, PyTorch's {@code [out, in]} layout, which is also DJL's).
 */
final class MoonsNet implements AutoCloseable {
    static final List<String> NAMES = List.of("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias");
    static final List<long[]> SHAPES = List.of(new long[] {32, 2}, new long[] {32}, new long[] {2, 32}, new long[] {2});

    private final Model model;
    private final Trainer trainer;

    MoonsNet(float learningRate) {
        System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
        SequentialBlock net = new SequentialBlock()
                .add(Linear.builder().setUnits(32).build())
                .add(Activation::relu)
                .add(Linear.builder().setUnits(2).build());
        model = Model.newInstance("moons", "PyTorch");
        model.setBlock(net);
        trainer = model.newTrainer(new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                .optOptimizer(Optimizer.sgd().setLearningRateTracker(Tracker.fixed(learningRate)).build()));
        trainer.initialize(new Shape(1, 2));
    }

    NDManager manager() {
        return trainer.getManager();
    }

    private List<Parameter> parameters() {
        return model.getBlock().getParameters().stream().map(Pair::getValue).toList();
    }

    /** Copies Tributary's weights into the network. */
    void load(TensorMap weights) {
        List<Parameter> ps = parameters();
        for (int i = 0; i < NAMES.size(); i++) {
            Tensor t = weights.tensor(NAMES.get(i));
            float[] v = new float[(int) t.numel()];
            for (int k = 0; k < v.length; k++) {
                v[k] = t.getFloat(k);
            }
            ps.get(i).getArray().set(v);
        }
    }

    /** The network's weights as Tributary tensors. */
    TensorMap weights() {
        TensorMap out = new TensorMap();
        List<Parameter> ps = parameters();
        for (int i = 0; i < NAMES.size(); i++) {
            out.put(NAMES.get(i), Tensor.ofFloats(SHAPES.get(i), ps.get(i).getArray().toFloatArray()));
        }
        return out;
    }

    /** One SGD step on a batch; returns its loss. */
    float step(NDArray x, NDArray y) {
        try (GradientCollector gc = trainer.newGradientCollector()) {
            NDArray logits = trainer.forward(new NDList(x)).singletonOrThrow();
            NDArray loss = trainer.getLoss().evaluate(new NDList(y), new NDList(logits));
            gc.backward(loss);
            trainer.step();
            return loss.getFloat();
        }
    }

    /** Logits for a batch, without training. */
    NDArray logits(NDArray x) {
        return trainer.evaluate(new NDList(x)).singletonOrThrow();
    }

    @Override
    public void close() {
        trainer.close();
        model.close();
    }
}

package dev.tributary.train.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.data.LabeledImages;
import dev.tributary.worker.InnerOptimizer;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.Replica;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.TrainResult;
import java.lang.foreign.Arena;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A {@link LocalTrainer} that trains an {@link Architecture} on local images with DJL's PyTorch engine on
 * the CPU. The images are converted to tensors once, when the trainer is built; each call to
 * {@link #train} copies the given weights in, runs the plan's steps with a fresh optimizer state, and
 * copies {@code trained − given} out.
 *
 * <p>Each epoch visits the local examples in an order drawn from the plan's seed; with a step budget the
 * epochs simply continue until it is spent. Call order: {@link #train} or {@link #start} from one thread
 * at a time, then {@link #close}.
 */
public final class DjlTrainer implements LocalTrainer {
    private final TrainerConfig config;
    private final NDManager manager;
    private final ImageTensors data;

    /** Loads {@code data} into PyTorch; {@code data} must hold at least one image. */
    public DjlTrainer(TrainerConfig config, LabeledImages data) {
        if (data.size() == 0) {
            throw new IllegalArgumentException("a trainer needs at least one example, got 0");
        }
        this.config = config;
        this.manager = TorchRuntime.engine().newBaseManager();
        try {
            this.data = ImageTensors.load(manager, data, config.inputs(), config.architecture().inputSize());
        } catch (RuntimeException e) {
            manager.close();
            throw e;
        }
    }

    /** The configuration. */
    public TrainerConfig config() {
        return config;
    }

    /** Number of local examples. */
    public int examples() {
        return data.size;
    }

    /** Steps in one pass over the local examples. */
    public int stepsPerEpoch() {
        return (data.size + config.batchSize() - 1) / config.batchSize();
    }

    @Override
    public TrainResult train(TensorMap weights, TrainPlan plan) {
        int steps = plan.steps() > 0 ? plan.steps() : Math.multiplyExact(plan.epochs(), stepsPerEpoch());
        try (Run run = start(weights, plan.seed())) {
            for (int i = 0; i < steps; i++) {
                run.step();
            }
            return run.finish();
        }
    }

    /**
     * Opens a training run from {@code weights} (checked against the architecture, not modified), for
     * callers that drive the steps themselves.
     */
    public Run start(TensorMap weights, long seed) {
        config.architecture().check(weights);
        return new Run(weights, seed, config.optimizer());
    }

    /**
     * A replica whose weights and {@code optimizer} state persist across calls: one {@link Run} that goes
     * on for as long as the replica is open (the optimizer's step count, and so AdamW's bias correction,
     * included).
     */
    @Override
    public Replica open(TensorMap weights, InnerOptimizer optimizer, long seed) {
        config.architecture().check(weights);
        OptimizerConfig inner = optimizer.isAdamW()
                ? new OptimizerConfig.AdamW((float) optimizer.lr(), (float) optimizer.beta1(), (float) optimizer.beta2(),
                        (float) optimizer.eps(), (float) optimizer.weightDecay())
                : new OptimizerConfig.Sgd((float) optimizer.lr(), (float) optimizer.momentum(),
                        (float) optimizer.weightDecay());
        Run run = new Run(weights, seed, inner);
        return new Replica() {
            @Override
            public TrainResult train(int steps) {
                int steps0 = run.steps();
                long examples0 = run.examples();
                float loss0 = run.lossSum.getFloat();
                for (int i = 0; i < steps; i++) {
                    run.step();
                }
                int n = run.steps() - steps0;
                double loss = n == 0 ? Double.NaN : (run.lossSum.getFloat() - (double) loss0) / n;
                return new TrainResult(new TensorMap(), run.examples() - examples0, n, Map.of("loss", loss));
            }

            @Override
            public TensorMap weights(List<String> names) {
                return run.weights(names);
            }

            @Override
            public void assign(TensorMap tensors) {
                run.assign(tensors);
            }

            @Override
            public void close() {
                run.close();
            }
        };
    }

    @Override
    public void close() {
        data.close();
        manager.close();
    }

    /**
     * One training run: the weights copied in, an optimizer state, a position in the shuffled data.
     * Closing it frees its native memory.
     */
    public final class Run implements AutoCloseable {
        private final NDManager runManager;
        private final TensorMap given;
        private final List<TensorInfo> infos;
        private final NDArray[] params;
        private final List<NDArray> paramList;
        private final OptimizerState optimizer;
        private final NDArray one;
        private final NDArray lossSum;
        private final SplittableRandom rng;
        private NDArray order;
        private int cursor;
        private int steps;
        private long examples;

        private Run(TensorMap weights, long seed, OptimizerConfig optimizerConfig) {
            this.runManager = manager.newSubManager();
            this.given = weights;
            this.infos = config.architecture().parameters();
            this.params = new NDArray[infos.size()];
            this.rng = new SplittableRandom(seed);
            try {
                for (int i = 0; i < params.length; i++) {
                    Tensor t = asF32(weights.tensor(infos.get(i).name()));
                    params[i] = WeightBridge.copyIn(runManager, t);
                    params[i].setRequiresGradient(true);
                }
                this.paramList = List.of(params);
                this.optimizer = new OptimizerState(optimizerConfig, params, runManager);
                this.one = runManager.ones(new Shape());
                this.lossSum = runManager.zeros(new Shape());
                this.cursor = data.size;
            } catch (RuntimeException e) {
                runManager.close();
                throw e;
            }
        }

        /** One optimizer step on the next batch. */
        public void step() {
            if (cursor >= data.size) {
                reshuffle();
            }
            int end = Math.min(cursor + config.batchSize(), data.size);
            boolean gradBefore = TorchRuntime.gradMode(true);
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDIndex rows = new NDIndex("{}", order.get(cursor + ":" + end));
                NDArray x = data.inputs.get(rows);
                NDArray y = data.labels.get(rows);
                NDArray logits = config.architecture().forward(paramList, x);
                NDArray loss = logits.logSoftmax(1).gather(y, 1).mean().neg();
                JniUtils.backward((PtNDArray) loss, (PtNDArray) one, false, false);
                TorchRuntime.gradMode(false);
                lossSum.addi(loss);
                optimizer.step();
            } finally {
                TorchRuntime.gradMode(gradBefore);
            }
            examples += end - cursor;
            cursor = end;
            steps++;
        }

        /** Steps taken so far. */
        public int steps() {
            return steps;
        }

        /** Examples processed so far. */
        public long examples() {
            return examples;
        }

        /** Mean of the batch losses so far (NaN before the first step). */
        public double meanLoss() {
            return steps == 0 ? Double.NaN : lossSum.getFloat() / (double) steps;
        }

        /** A copy of the current weights, f32, in {@link Architecture#parameters()} order. */
        public TensorMap weights() {
            return weights(infos.stream().map(TensorInfo::name).toList());
        }

        /** Copies of the current weights of {@code names}, f32. */
        public TensorMap weights(List<String> names) {
            TensorMap out = new TensorMap();
            for (String name : names) {
                out.put(name, WeightBridge.copyOut(params[index(name)], Arena.ofAuto()));
            }
            return out;
        }

        /** Overwrites the parameters named in {@code tensors} in place; the optimizer state stays. */
        public void assign(TensorMap tensors) {
            for (String name : tensors.names()) {
                NDArray p = params[index(name)];
                Tensor t = tensors.tensor(name);
                if (!java.util.Arrays.equals(t.shape(), p.getShape().getShape())) {
                    throw new IllegalArgumentException("tensor " + name + ": shape "
                            + java.util.Arrays.toString(t.shape()) + " != " + p.getShape());
                }
                p.set(t.toFloatArray());
            }
        }

        private int index(String name) {
            for (int i = 0; i < infos.size(); i++) {
                if (infos.get(i).name().equals(name)) {
                    return i;
                }
            }
            throw new IllegalArgumentException("tensor " + name + ": not a parameter of " + config.architecture().name());
        }

        /**
         * The result so far: {@code trained − given} per tensor, in the given tensors' dtypes, with the
         * examples, steps and metric {@code loss} (mean batch loss).
         */
        public TrainResult finish() {
            TensorMap delta = new TensorMap();
            boolean gradBefore = TorchRuntime.gradMode(false);
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                for (int i = 0; i < params.length; i++) {
                    String name = infos.get(i).name();
                    Tensor start = given.tensor(name);
                    NDArray d = params[i].sub(WeightBridge.view(runManager, asF32(start)));
                    Tensor out = WeightBridge.copyOut(d, Arena.ofAuto());
                    delta.put(name, start.dtype() == DType.F32 ? out : out.castTo(start.dtype(), Arena.ofAuto()));
                }
            } finally {
                TorchRuntime.gradMode(gradBefore);
            }
            return new TrainResult(delta, examples, steps, Map.of("loss", meanLoss()));
        }

        @Override
        public void close() {
            runManager.close();
        }

        private void reshuffle() {
            long[] perm = new long[data.size];
            for (int i = 0; i < perm.length; i++) {
                perm[i] = i;
            }
            for (int i = perm.length - 1; i > 0; i--) {
                int j = rng.nextInt(i + 1);
                long t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            if (order != null) {
                order.close();
            }
            order = runManager.create(perm);
            cursor = 0;
        }
    }

    private static Tensor asF32(Tensor t) {
        return t.dtype() == DType.F32 ? t : t.toF32(Arena.ofAuto());
    }

    @Override
    public String toString() {
        return "DjlTrainer[" + config.architecture().name() + ", " + data.size + " examples, batch "
                + config.batchSize() + "]";
    }
}

package dev.tributary.sim;

import dev.tributary.tensor.TensorMap;
import dev.tributary.train.data.FashionMnist;
import dev.tributary.train.data.LabeledImages;
import dev.tributary.train.djl.Architecture;
import dev.tributary.train.djl.DjlTrainer;
import dev.tributary.train.djl.Evaluator;
import dev.tributary.train.djl.OptimizerConfig;
import dev.tributary.train.djl.Standardization;
import dev.tributary.train.djl.TrainerConfig;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.InnerOptimizer;
import dev.tributary.worker.Replica;
import dev.tributary.worker.TrainResult;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Fashion-MNIST with DJL/PyTorch on the CPU: the training images split among the clients by the
 * configured partitioner, each client's share trained with SGD (lr, momentum, batch from the
 * configuration, else the reference 0.02, 0.9, 32), and the global model scored on the 10,000 test
 * images. Clients hold only the indices of their share; trainers exist for the most recent clients.
 */
final class FashionWorkload implements Workload {
    /** Trainers kept open at once (each holds its share as native tensors). */
    static final int TRAINERS = 64;
    static final int EVAL_BATCH = 1000;
    /** DJL's setting for PyTorch's intra-op threads. */
    static final String TORCH_THREADS = "ai.djl.pytorch.num_threads";

    private final SimConfig config;
    private final Architecture architecture;
    private final Evaluator evaluator;
    private final TrainerCache trainers;
    private final int[] shareSizes;
    private final int batch;

    private FashionWorkload(SimConfig config, Architecture architecture, TrainerConfig trainer, FashionMnist data,
            int[][] shares) {
        this.shareSizes = java.util.Arrays.stream(shares).mapToInt(a -> a.length).toArray();
        this.batch = trainer.batchSize();
        this.config = config;
        this.architecture = architecture;
        this.evaluator = new Evaluator(architecture, data.test(), trainer.inputs(), EVAL_BATCH);
        LabeledImages train = data.train();
        this.trainers = new TrainerCache(TrainerCache.capacity(config, TRAINERS),
                client -> new DjlTrainer(trainer, train.subset(shares[client])));
    }

    static FashionWorkload open(SimConfig config) {
        // Batches of a few dozen images are too small for intra-op threads to pay: one thread per step is
        // several times faster than two when other processes share the cores. Set before the engine loads.
        if (System.getProperty(TORCH_THREADS) == null) {
            System.setProperty(TORCH_THREADS, "1");
        }
        Architecture architecture = switch (config.task()) {
            case "fmnist-mlp" -> Architecture.fashionMlp();
            case "fmnist-cnn" -> Architecture.fashionCnn();
            default -> throw new IllegalArgumentException(config.source() + ": task: unknown task \"" + config.task()
                    + "\" (fmnist tasks: fmnist-mlp, fmnist-cnn)");
        };
        TrainerConfig reference = TrainerConfig.fashion(architecture);
        SimConfig.Local local = config.local();
        float lr = Double.isNaN(local.lr()) ? reference.optimizer().lr() : (float) local.lr();
        float momentum = Double.isNaN(local.momentum())
                ? ((OptimizerConfig.Sgd) reference.optimizer()).momentum() : (float) local.momentum();
        int batch = local.batch() > 0 ? local.batch() : reference.batchSize();
        TrainerConfig trainer = new TrainerConfig(architecture, OptimizerConfig.sgd(lr, momentum), batch,
                Standardization.FASHION_MNIST);
        if (!FashionMnist.available(config.data())) {
            throw new IllegalArgumentException(config.source() + ": data: no Fashion-MNIST files in " + config.data()
                    + " (install Debian's dataset-fashion-mnist or point data at the four IDX files)");
        }
        FashionMnist data;
        try {
            data = FashionMnist.load(config.data());
        } catch (IOException e) {
            throw new UncheckedIOException(config.data() + ": " + e.getMessage(), e);
        }
        SimConfig.Partition p = config.partition();
        int[][] shares;
        try {
            shares = p.partitioner().split(data.train().labelArray(), config.clients(), p.seedFor(config.seed()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(config.source() + ": partition: " + e.getMessage(), e);
        }
        return new FashionWorkload(config, architecture, trainer, data, shares);
    }

    @Override
    public TensorMap initialModel() {
        return architecture.init(Seeds.mix(config.seed(), Seeds.MODEL));
    }

    @Override
    public TrainResult train(int client, TensorMap weights, long seed) {
        return trainers.get(client).train(weights, TaskWorkload.plan(config.local(), TrainPlan.epochs(1, seed), seed));
    }

    @Override
    public Replica open(int client, TensorMap weights, InnerOptimizer optimizer, long seed) {
        return trainers.get(client).open(weights, optimizer, seed);
    }

    /** DjlTrainer's count: whole epochs of the share, then full batches (the last batch of an epoch is short). */
    @Override
    public long examplesPerUpdate(int client) {
        int n = shareSizes[client];
        if (n == 0) {
            return -1;
        }
        long perEpoch = (n + batch - 1) / batch;
        TrainPlan plan = TaskWorkload.plan(config.local(), TrainPlan.epochs(1, 0), 0);
        long steps = plan.steps() > 0 ? plan.steps() : plan.epochs() * perEpoch;
        return steps / perEpoch * n + steps % perEpoch * batch;
    }

    @Override
    public double accuracy(TensorMap weights) {
        return evaluator.evaluate(weights).accuracy();
    }

    @Override
    public void close() {
        trainers.close();
        evaluator.close();
    }
}

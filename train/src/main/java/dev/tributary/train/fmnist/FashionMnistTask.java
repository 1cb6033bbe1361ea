package dev.tributary.train.fmnist;

import dev.tributary.tensor.TensorMap;
import dev.tributary.train.Task;
import dev.tributary.train.data.FashionMnist;
import dev.tributary.train.djl.Architecture;
import dev.tributary.train.djl.DjlTrainer;
import dev.tributary.train.djl.Evaluation;
import dev.tributary.train.djl.Evaluator;
import dev.tributary.train.djl.TrainerConfig;
import dev.tributary.train.partition.Partitioner;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Objects;

/**
 * Fashion-MNIST classification trained with DJL/PyTorch on the CPU: {@value #MLP} (784-200-10) or
 * {@value #CNN} (two 5×5 convolutions). Workers split the 60,000 training images with a
 * {@link Partitioner} (by default Dirichlet(0.3) label skew with partition seed 0, as in the reference
 * runs) and train with SGD lr 0.02, momentum 0.9, batch 32, one local epoch per update; the model is
 * evaluated on the 10,000 test images.
 *
 * <p>The data set is read on first use from {@code dataDir} (by default Debian's
 * {@code dataset-fashion-mnist}, {@link FashionMnist#DEFAULT_DIR}) and kept.
 */
public final class FashionMnistTask implements Task {
    /** Name of the MLP task. */
    public static final String MLP = "fmnist-mlp";
    /** Name of the CNN task. */
    public static final String CNN = "fmnist-cnn";
    /** Batch size of the test-set evaluation. */
    static final int EVAL_BATCH = 1000;

    private final String name;
    private final TrainerConfig config;
    private final Path dataDir;
    private final Partitioner partitioner;
    private final long partitionSeed;
    private FashionMnist data;

    /**
     * @param name          the task's name
     * @param config        network, optimizer, batch size and input standardization
     * @param dataDir       directory of the four IDX files
     * @param partitioner   how the training images are split among workers
     * @param partitionSeed seed of the split; every worker must use the same one to get disjoint shares
     */
    public FashionMnistTask(String name, TrainerConfig config, Path dataDir, Partitioner partitioner,
            long partitionSeed) {
        this.name = Objects.requireNonNull(name, "name");
        this.config = Objects.requireNonNull(config, "config");
        this.dataDir = Objects.requireNonNull(dataDir, "dataDir");
        this.partitioner = Objects.requireNonNull(partitioner, "partitioner");
        this.partitionSeed = partitionSeed;
    }

    /** {@value #MLP} with the data in {@link FashionMnist#DEFAULT_DIR}. */
    public static FashionMnistTask mlp() {
        return mlp(FashionMnist.DEFAULT_DIR);
    }

    /** {@value #MLP} with the data in {@code dataDir}. */
    public static FashionMnistTask mlp(Path dataDir) {
        return new FashionMnistTask(MLP, TrainerConfig.fashion(Architecture.fashionMlp()), dataDir,
                Partitioner.dirichlet(0.3), 0);
    }

    /** {@value #CNN} with the data in {@link FashionMnist#DEFAULT_DIR}. */
    public static FashionMnistTask cnn() {
        return cnn(FashionMnist.DEFAULT_DIR);
    }

    /** {@value #CNN} with the data in {@code dataDir}. */
    public static FashionMnistTask cnn(Path dataDir) {
        return new FashionMnistTask(CNN, TrainerConfig.fashion(Architecture.fashionCnn()), dataDir,
                Partitioner.dirichlet(0.3), 0);
    }

    /** The same task reading its data from {@code dir} (a {@code --data DIR} option). */
    public FashionMnistTask withDataDir(Path dir) {
        return new FashionMnistTask(name, config, dir, partitioner, partitionSeed);
    }

    /** The same task with another split of the training images among workers. */
    public FashionMnistTask withPartition(Partitioner p, long seed) {
        return new FashionMnistTask(name, config, dataDir, p, seed);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String description() {
        return "Fashion-MNIST, " + config.architecture().name() + ", " + partitioner.describe()
                + " split (DJL/PyTorch on CPU)";
    }

    @Override
    public TensorMap initialModel(long seed) {
        return config.architecture().init(seed);
    }

    /**
     * {@inheritDoc}
     *
     * <p>The share is fixed by the partition seed, not by {@code seed}, so that workers started apart agree
     * on it; the order of the examples follows the seed of each {@link TrainPlan}.
     */
    @Override
    public LocalTrainer trainer(int worker, int workers, long seed) {
        if (workers < 1 || worker < 0 || worker >= workers) {
            throw new IllegalArgumentException("worker " + worker + " of " + workers + ": needs 0 <= worker < workers");
        }
        FashionMnist d = data();
        int[] share = partitioner.split(d.train().labelArray(), workers, partitionSeed)[worker];
        return new DjlTrainer(config, d.train().subset(share));
    }

    @Override
    public TrainPlan defaultPlan(long seed) {
        return TrainPlan.epochs(1, seed);
    }

    /** Accuracy and mean cross-entropy on the 10,000 test images: {@code accuracy}, {@code loss}. */
    @Override
    public Map<String, Double> evaluate(TensorMap weights) {
        try (Evaluator evaluator = new Evaluator(config.architecture(), data().test(), config.inputs(), EVAL_BATCH)) {
            Evaluation e = evaluator.evaluate(weights);
            return Map.of("accuracy", e.accuracy(), "loss", e.loss());
        }
    }

    private synchronized FashionMnist data() {
        if (data == null) {
            try {
                data = FashionMnist.load(dataDir);
            } catch (IOException e) {
                throw new UncheckedIOException(e.getMessage(), e);
            }
        }
        return data;
    }
}

package dev.tributary.sim;

import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.InnerOptimizer;
import dev.tributary.worker.Replica;
import dev.tributary.worker.TrainResult;

/**
 * What the simulated clients train and how the global model is scored: the task's model, each client's
 * local training over its share of the data, and the test accuracy.
 *
 * <p>Call order: {@link #initialModel}, then {@link #train} and {@link #accuracy} in any order from one
 * thread (or, for workloads that know {@link #examplesPerUpdate}, {@link #train} of different clients from
 * several threads), then {@link #close}.
 */
interface Workload extends AutoCloseable {

    /** The model every run of this seed starts from. */
    TensorMap initialModel();

    /**
     * Trains client {@code client} from {@code weights} (not modified) with its local plan.
     *
     * @param seed seed of this update's shuffling
     */
    TrainResult train(int client, TensorMap weights, long seed);

    /**
     * A replica of client {@code client} from {@code weights} whose weights and optimizer state persist
     * (DiLoCo's inner loop), over the same data and batch as {@link #train}.
     */
    Replica open(int client, TensorMap weights, InnerOptimizer optimizer, long seed);

    /**
     * The examples one {@link #train} of {@code client} processes, known before it runs, or -1 when only
     * training tells; a workload that knows it trains different clients from several threads at once.
     */
    default long examplesPerUpdate(int client) {
        return -1;
    }

    /** Accuracy of {@code weights} on held-out data. */
    double accuracy(TensorMap weights);

    /** Releases trainers and native memory. */
    @Override
    void close();

    /** The workload {@code config} names. */
    static Workload of(SimConfig config) {
        return config.task().startsWith("fmnist-") ? FashionWorkload.open(config) : TaskWorkload.open(config);
    }
}

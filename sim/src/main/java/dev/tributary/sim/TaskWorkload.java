package dev.tributary.sim;

import dev.tributary.tensor.TensorMap;
import dev.tributary.train.Task;
import dev.tributary.train.Tasks;
import dev.tributary.worker.TrainPlan;
import dev.tributary.worker.InnerOptimizer;
import dev.tributary.worker.Replica;
import dev.tributary.worker.TrainResult;

/**
 * A task from the registry (such as {@code synthetic-logreg}) that brings its own per-client data and
 * training settings; only the amount of local training comes from the configuration.
 */
final class TaskWorkload implements Workload {
    /** Trainers kept open at once. */
    static final int TRAINERS = 64;

    private final Task task;
    private final SimConfig config;
    private final TrainerCache trainers;

    private TaskWorkload(Task task, SimConfig config) {
        this.task = task;
        this.config = config;
        this.trainers = new TrainerCache(TrainerCache.capacity(config, TRAINERS),
                client -> task.trainer(client, config.clients(), config.seed()));
    }

    static TaskWorkload open(SimConfig config) {
        Task task;
        try {
            task = Tasks.byName(config.task());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(config.source() + ": task: " + e.getMessage(), e);
        }
        return new TaskWorkload(task, config);
    }

    @Override
    public TensorMap initialModel() {
        return task.initialModel(Seeds.mix(config.seed(), Seeds.MODEL));
    }

    @Override
    public TrainResult train(int client, TensorMap weights, long seed) {
        return trainers.get(client).train(weights, plan(config.local(), task.defaultPlan(seed), seed));
    }

    @Override
    public Replica open(int client, TensorMap weights, InnerOptimizer optimizer, long seed) {
        return trainers.get(client).open(weights, optimizer, seed);
    }

    @Override
    public double accuracy(TensorMap weights) {
        Double a = task.evaluate(weights).get("accuracy");
        if (a == null) {
            throw new IllegalStateException("task " + task.name() + ": evaluation reports no accuracy");
        }
        return a;
    }

    @Override
    public void close() {
        trainers.close();
    }

    /** The configured amount of local training, else {@code dflt}; always with {@code seed}. */
    static TrainPlan plan(SimConfig.Local local, TrainPlan dflt, long seed) {
        if (local.steps() > 0) {
            return TrainPlan.steps(local.steps(), seed);
        }
        if (local.epochs() > 0) {
            return TrainPlan.epochs(local.epochs(), seed);
        }
        return new TrainPlan(dflt.steps(), dflt.epochs(), seed);
    }
}

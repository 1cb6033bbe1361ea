package dev.tributary.train;

import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.LocalTrainer;
import dev.tributary.worker.TrainPlan;
import java.util.Map;

/**
 * A training task as the command line knows it: a model with its initial weights, the local trainer a
 * worker runs on its share of the data, and an evaluation on held-out data.
 *
 * <p>Call order: any of the methods, any number of times; every trainer returned is closed by its user.
 */
public interface Task {

    /** The name {@code init} and {@code work} take, e.g. {@code synthetic-logreg}. */
    String name();

    /** One line for help texts. */
    String description();

    /** The model's initial weights; the same seed gives the same bytes. */
    TensorMap initialModel(long seed);

    /**
     * A trainer over worker {@code worker}'s share ({@code 0 ≤ worker < workers}) of the task's training
     * data; {@code seed} drives shuffling and sampling.
     */
    LocalTrainer trainer(int worker, int workers, long seed);

    /** Local training per update when the user does not say. */
    TrainPlan defaultPlan(long seed);

    /** Metrics of {@code weights} on held-out data, at least {@code loss} and {@code accuracy}. */
    Map<String, Double> evaluate(TensorMap weights);
}

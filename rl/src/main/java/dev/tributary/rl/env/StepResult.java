package dev.tributary.rl.env;

/**
 * What one {@link Environment#step} returns.
 *
 * @param observation the observation after the step (owned by the caller: environments hand out a fresh array)
 * @param reward      the reward for the step
 * @param terminated  the episode reached a terminal state of the task (no bootstrapping past it)
 * @param truncated   the episode was cut short from outside the task, usually by a time limit (the value of
 *                    the last observation still counts)
 */
public record StepResult(float[] observation, double reward, boolean terminated, boolean truncated) {

    /** Whether the episode is over, either way: the next call must be {@link Environment#reset}. */
    public boolean done() {
        return terminated || truncated;
    }
}

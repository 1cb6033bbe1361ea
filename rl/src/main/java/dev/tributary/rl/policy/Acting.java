package dev.tributary.rl.policy;

import dev.tributary.rl.env.Action;

/**
 * What a policy did for a batch of observations: per row the sampled action, its log-probability under the
 * policy (the behaviour log-probability an actor reports) and the critic's value.
 */
public record Acting(Action[] actions, float[] logProbs, float[] values) {
    public Acting {
        if (actions.length != logProbs.length || actions.length != values.length) {
            throw new IllegalArgumentException("acting: " + actions.length + " actions, " + logProbs.length
                    + " log-probs, " + values.length + " values");
        }
    }

    /** Number of rows. */
    public int size() {
        return actions.length;
    }
}

package dev.tributary.rl.policy;

import dev.tributary.rl.env.Space;

/** The distribution over actions a policy outputs. */
public sealed interface Head permits Head.Categorical, Head.Gaussian {

    /** Outputs of the actor network: logits for a categorical head, means for a Gaussian one. */
    int outputs();

    /** The head that fits an action space: categorical for {@link Space.Discrete}, Gaussian for a box. */
    static Head forSpace(Space actions) {
        return switch (actions) {
            case Space.Discrete d -> new Categorical(d.n());
            case Space.Box b -> new Gaussian(b.size());
        };
    }

    /** A categorical distribution over {@code actions} choices, softmax of the logits. */
    record Categorical(int actions) implements Head {
        public Categorical {
            if (actions < 2) {
                throw new IllegalArgumentException("categorical head: actions < 2: " + actions);
            }
        }

        @Override
        public int outputs() {
            return actions;
        }
    }

    /**
     * A diagonal Gaussian over {@code dims} reals: the mean from the network, a learnt log standard
     * deviation per dimension that does not depend on the state (starting at 0, as in CleanRL).
     */
    record Gaussian(int dims) implements Head {
        public Gaussian {
            if (dims < 1) {
                throw new IllegalArgumentException("gaussian head: dims < 1: " + dims);
            }
        }

        @Override
        public int outputs() {
            return dims;
        }
    }
}

package dev.tributary.rl.env;

import java.util.List;

/**
 * Gymnasium's classic-control environments, with the dynamics, rewards, termination and time limits of
 * Gymnasium 1.x. Given the same start state and actions they follow Gymnasium's trajectories to within
 * floating-point rounding: the arithmetic is the same, operation by operation, but {@code sin}, {@code cos}
 * and {@code pow} come from the JDK rather than the C library and differ from it in the last bit for a
 * small fraction of arguments. Seeded resets draw the start state from the same distribution as Gymnasium,
 * though not from numpy's generator, so a seed does not give Gymnasium's start state.
 */
public final class ClassicControl {
    private ClassicControl() {}

    /** The environment ids {@link #make} knows. */
    public static List<String> ids() {
        return List.of(CartPole.ID, Acrobot.ID, Pendulum.ID);
    }

    /**
     * A new environment by its Gymnasium id, with Gymnasium's time limit.
     *
     * @throws IllegalArgumentException for an id not in {@link #ids()}
     */
    public static Environment make(String id) {
        return switch (id) {
            case CartPole.ID -> cartPole();
            case Acrobot.ID -> acrobot();
            case Pendulum.ID -> pendulum();
            default -> throw new IllegalArgumentException("unknown environment " + id + " (known: "
                    + String.join(", ", ids()) + ")");
        };
    }

    /** CartPole-v1: 2 actions, 4 observations, truncated at 500 steps. */
    public static Environment cartPole() {
        return new CartPole(500);
    }

    /** Acrobot-v1: 3 actions, 6 observations, truncated at 500 steps. */
    public static Environment acrobot() {
        return new Acrobot(500);
    }

    /** Pendulum-v1: one torque in [−2, 2], 3 observations, truncated at 200 steps. */
    public static Environment pendulum() {
        return new Pendulum(200);
    }
}

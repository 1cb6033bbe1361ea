package dev.tributary.rl.env;

import java.util.SplittableRandom;

/**
 * Gymnasium's CartPole-v1: a pole on a cart, pushed left (0) or right (1) with a fixed force; Euler steps of
 * 0.02 s; +1 per step including the last; terminated when the cart leaves ±2.4 or the pole leans past 12°;
 * truncated at 500 steps. State {@code (x, ẋ, θ, θ̇)} in doubles, observed as floats; the start state is
 * uniform in ±0.05. The arithmetic follows Gymnasium's, operation by operation.
 */
final class CartPole extends ClassicEnvironment {
    static final String ID = "CartPole-v1";

    private static final double GRAVITY = 9.8;
    private static final double MASS_CART = 1.0;
    private static final double MASS_POLE = 0.1;
    private static final double TOTAL_MASS = MASS_POLE + MASS_CART;
    /** Half the pole's length. */
    private static final double LENGTH = 0.5;
    private static final double POLE_MASS_LENGTH = MASS_POLE * LENGTH;
    private static final double FORCE_MAG = 10.0;
    private static final double TAU = 0.02;
    private static final double THETA_THRESHOLD = 12 * 2 * Math.PI / 360;
    private static final double X_THRESHOLD = 2.4;

    private static final Space OBSERVATIONS = new Space.Box(
            new float[] {(float) -(X_THRESHOLD * 2), Float.NEGATIVE_INFINITY, (float) -(THETA_THRESHOLD * 2),
                Float.NEGATIVE_INFINITY},
            new float[] {(float) (X_THRESHOLD * 2), Float.POSITIVE_INFINITY, (float) (THETA_THRESHOLD * 2),
                Float.POSITIVE_INFINITY},
            new int[] {4});
    private static final Space ACTIONS = new Space.Discrete(2);

    CartPole(int maxEpisodeSteps) {
        super(ID, maxEpisodeSteps, OBSERVATIONS, ACTIONS, 4);
    }

    @Override
    double[] sampleStart(SplittableRandom rng) {
        return uniform(rng, 4, 0.05);
    }

    @Override
    double advance(Action action) {
        double x = state[0];
        double xDot = state[1];
        double theta = state[2];
        double thetaDot = state[3];
        double force = ((Action.Discrete) action).index() == 1 ? FORCE_MAG : -FORCE_MAG;
        double cos = Math.cos(theta);
        double sin = Math.sin(theta);
        double temp = (force + POLE_MASS_LENGTH * (thetaDot * thetaDot) * sin) / TOTAL_MASS;
        double thetaAcc = (GRAVITY * sin - cos * temp)
                / (LENGTH * (4.0 / 3.0 - MASS_POLE * (cos * cos) / TOTAL_MASS));
        double xAcc = temp - POLE_MASS_LENGTH * thetaAcc * cos / TOTAL_MASS;
        state[0] = x + TAU * xDot;
        state[1] = xDot + TAU * xAcc;
        state[2] = theta + TAU * thetaDot;
        state[3] = thetaDot + TAU * thetaAcc;
        return 1.0;
    }

    @Override
    boolean terminal() {
        double x = state[0];
        double theta = state[2];
        return x < -X_THRESHOLD || x > X_THRESHOLD || theta < -THETA_THRESHOLD || theta > THETA_THRESHOLD;
    }

    @Override
    float[] observation() {
        return new float[] {(float) state[0], (float) state[1], (float) state[2], (float) state[3]};
    }
}

package dev.tributary.rl.env;

import java.util.SplittableRandom;

/**
 * Gymnasium's Acrobot-v1: two links hanging from a bar, torque −1, 0 or +1 (actions 0, 1, 2) on the joint
 * between them; the "book" dynamics integrated with one RK4 step of 0.2 s; −1 per step, 0 on the step that
 * swings the tip above the bar ({@code −cos θ₁ − cos(θ₁ + θ₂) > 1}), which terminates; truncated at 500
 * steps. State {@code (θ₁, θ₂, θ̇₁, θ̇₂)}: angles wrapped to [−π, π], velocities bounded by 4π and 9π.
 * Observation {@code (cos θ₁, sin θ₁, cos θ₂, sin θ₂, θ̇₁, θ̇₂)} as floats. Gymnasium draws the start state
 * uniform in ±0.1 as floats, then integrates in doubles; so does this class.
 */
final class Acrobot extends ClassicEnvironment {
    static final String ID = "Acrobot-v1";

    private static final double DT = 0.2;
    private static final double LINK_LENGTH_1 = 1.0;
    private static final double LINK_MASS_1 = 1.0;
    private static final double LINK_MASS_2 = 1.0;
    private static final double LINK_COM_POS_1 = 0.5;
    private static final double LINK_COM_POS_2 = 0.5;
    private static final double LINK_MOI = 1.0;
    private static final double GRAVITY = 9.8;
    private static final double MAX_VEL_1 = 4 * Math.PI;
    private static final double MAX_VEL_2 = 9 * Math.PI;
    private static final double[] TORQUES = {-1.0, 0.0, 1.0};

    private static final Space OBSERVATIONS;
    private static final Space ACTIONS = new Space.Discrete(3);

    static {
        float[] high = {1f, 1f, 1f, 1f, (float) MAX_VEL_1, (float) MAX_VEL_2};
        float[] low = new float[high.length];
        for (int i = 0; i < high.length; i++) {
            low[i] = -high[i];
        }
        OBSERVATIONS = new Space.Box(low, high, new int[] {6});
    }

    Acrobot(int maxEpisodeSteps) {
        super(ID, maxEpisodeSteps, OBSERVATIONS, ACTIONS, 4);
    }

    @Override
    double[] sampleStart(SplittableRandom rng) {
        double[] s = uniform(rng, 4, 0.1);
        for (int i = 0; i < 4; i++) {
            s[i] = (float) s[i];
        }
        return s;
    }

    @Override
    double advance(Action action) {
        double torque = TORQUES[((Action.Discrete) action).index()];
        double[] next = rk4(state, torque);
        next[0] = wrap(next[0], -Math.PI, Math.PI);
        next[1] = wrap(next[1], -Math.PI, Math.PI);
        next[2] = Math.min(Math.max(next[2], -MAX_VEL_1), MAX_VEL_1);
        next[3] = Math.min(Math.max(next[3], -MAX_VEL_2), MAX_VEL_2);
        state = next;
        return terminal() ? 0.0 : -1.0;
    }

    @Override
    boolean terminal() {
        return -Math.cos(state[0]) - Math.cos(state[1] + state[0]) > 1.0;
    }

    @Override
    float[] observation() {
        return new float[] {(float) Math.cos(state[0]), (float) Math.sin(state[0]), (float) Math.cos(state[1]),
            (float) Math.sin(state[1]), (float) state[2], (float) state[3]};
    }

    /** One classical Runge-Kutta step of length {@link #DT}; the torque is held constant over it. */
    private static double[] rk4(double[] y0, double torque) {
        double dt = DT;
        double dt2 = dt / 2.0;
        double[] k1 = derivatives(y0, torque);
        double[] k2 = derivatives(shifted(y0, dt2, k1), torque);
        double[] k3 = derivatives(shifted(y0, dt2, k2), torque);
        double[] k4 = derivatives(shifted(y0, dt, k3), torque);
        double[] out = new double[4];
        for (int i = 0; i < 4; i++) {
            out[i] = y0[i] + dt / 6.0 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
        }
        return out;
    }

    private static double[] shifted(double[] y, double h, double[] k) {
        double[] out = new double[4];
        for (int i = 0; i < 4; i++) {
            out[i] = y[i] + h * k[i];
        }
        return out;
    }

    /** {@code (θ̇₁, θ̇₂, θ̈₁, θ̈₂)} from the book's equations of motion (Sutton and Barto). */
    private static double[] derivatives(double[] s, double a) {
        double m1 = LINK_MASS_1;
        double m2 = LINK_MASS_2;
        double l1 = LINK_LENGTH_1;
        double lc1 = LINK_COM_POS_1;
        double lc2 = LINK_COM_POS_2;
        double i1 = LINK_MOI;
        double i2 = LINK_MOI;
        double g = GRAVITY;
        double theta1 = s[0];
        double theta2 = s[1];
        double dtheta1 = s[2];
        double dtheta2 = s[3];
        double d1 = m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + 2 * l1 * lc2 * Math.cos(theta2)) + i1 + i2;
        double d2 = m2 * (lc2 * lc2 + l1 * lc2 * Math.cos(theta2)) + i2;
        double phi2 = m2 * lc2 * g * Math.cos(theta1 + theta2 - Math.PI / 2.0);
        double phi1 = -m2 * l1 * lc2 * (dtheta2 * dtheta2) * Math.sin(theta2)
                - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * Math.sin(theta2)
                + (m1 * lc1 + m2 * l1) * g * Math.cos(theta1 - Math.PI / 2)
                + phi2;
        double ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * (dtheta1 * dtheta1) * Math.sin(theta2) - phi2)
                / (m2 * (lc2 * lc2) + i2 - (d2 * d2) / d1);
        double ddtheta1 = -(d2 * ddtheta2 + phi1) / d1;
        return new double[] {dtheta1, dtheta2, ddtheta1, ddtheta2};
    }

    /** {@code x} shifted by whole turns of {@code max − min} into {@code [min, max]}. */
    private static double wrap(double x, double min, double max) {
        double diff = max - min;
        while (x > max) {
            x = x - diff;
        }
        while (x < min) {
            x = x + diff;
        }
        return x;
    }
}

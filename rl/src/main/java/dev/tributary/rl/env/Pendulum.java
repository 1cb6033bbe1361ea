package dev.tributary.rl.env;

import java.util.SplittableRandom;

/**
 * Gymnasium's Pendulum-v1 (g = 10): a pendulum swung up by a torque clipped to ±2; semi-implicit Euler
 * steps of 0.05 s with the angular velocity clipped to ±8; reward {@code −(θ̂² + 0.1 θ̇² + 0.001 u²)} with
 * θ̂ the angle normalized to [−π, π); never terminates, truncated at 200 steps. State {@code (θ, θ̇)} in
 * doubles, start uniform in {@code θ ∈ [−π, π], θ̇ ∈ [−1, 1]}; observation {@code (cos θ, sin θ, θ̇)} as
 * floats. As in Gymnasium (numpy 2 promotion rules) the torque stays a float, so the torque terms
 * {@code 3u} and {@code 0.001 u²} are computed in single precision.
 */
final class Pendulum extends ClassicEnvironment {
    static final String ID = "Pendulum-v1";

    private static final double MAX_SPEED = 8;
    private static final float MAX_TORQUE = 2.0f;
    private static final double DT = 0.05;
    private static final double G = 10.0;
    private static final double M = 1.0;
    private static final double L = 1.0;

    private static final Space OBSERVATIONS = new Space.Box(
            new float[] {-1f, -1f, (float) -MAX_SPEED}, new float[] {1f, 1f, (float) MAX_SPEED}, new int[] {3});
    private static final Space ACTIONS = Space.Box.of(1, -MAX_TORQUE, MAX_TORQUE);

    Pendulum(int maxEpisodeSteps) {
        super(ID, maxEpisodeSteps, OBSERVATIONS, ACTIONS, 2);
    }

    @Override
    double[] sampleStart(SplittableRandom rng) {
        return new double[] {uniform(rng, -Math.PI, Math.PI), uniform(rng, -1.0, 1.0)};
    }

    @Override
    double advance(Action action) {
        double th = state[0];
        double thdot = state[1];
        float u = Math.min(Math.max(((Action.Continuous) action).value(0), -MAX_TORQUE), MAX_TORQUE);
        double normalized = angleNormalize(th);
        float uCost = 0.001f * (u * u);
        double costs = normalized * normalized + 0.1 * (thdot * thdot) + uCost;
        float torqueTerm = (float) (3.0 / (M * (L * L))) * u;
        double newThdot = thdot + (3 * G / (2 * L) * Math.sin(th) + torqueTerm) * DT;
        newThdot = Math.min(Math.max(newThdot, -MAX_SPEED), MAX_SPEED);
        double newTh = th + newThdot * DT;
        state[0] = newTh;
        state[1] = newThdot;
        return -costs;
    }

    @Override
    boolean terminal() {
        return false;
    }

    @Override
    float[] observation() {
        return new float[] {(float) Math.cos(state[0]), (float) Math.sin(state[0]), (float) state[1]};
    }

    /** {@code x} in {@code [−π, π)}, with numpy's floored remainder (the sign of the divisor). */
    static double angleNormalize(double x) {
        double divisor = 2 * Math.PI;
        double mod = (x + Math.PI) % divisor;
        if (mod != 0 && (mod < 0) != (divisor < 0)) {
            mod += divisor;
        }
        return mod - Math.PI;
    }
}

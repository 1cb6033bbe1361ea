package dev.tributary.rl.env;

/**
 * A sequential decision task that an agent acts in, one step at a time: the service provider interface
 * for a robot, a simulator or a game. The shape is Gymnasium's ({@code reset}, {@code step} with
 * separate {@code terminated} and {@code truncated} flags), so that environments and results carry over.
 *
 * <h2>Call order</h2>
 * <ol>
 *   <li>{@link #observationSpace()} and {@link #actionSpace()} at any time; they never change.</li>
 *   <li>{@link #reset(long)} to start an episode; it returns the first observation.</li>
 *   <li>{@link #step(Action)} with actions from {@link #actionSpace()}, until a result is
 *       {@link StepResult#done() done} ({@code terminated} or {@code truncated}).</li>
 *   <li>{@link #reset(long)} again for the next episode (a step after the end is refused), and so on.</li>
 *   <li>{@link #close()} once, when the environment is no longer needed.</li>
 * </ol>
 * An environment is used from one thread at a time. The same seed must give the same first observation,
 * and with the same actions the same episode, wherever that is possible (a physical robot cannot).
 *
 * <h2>Terminated or truncated</h2>
 * {@code terminated} means the task itself ended (the pole fell, the goal was reached): nothing follows, and
 * learners do not bootstrap past it. {@code truncated} means the episode was cut from outside, typically by a
 * time limit: the last observation still has a value, and learners bootstrap from it. Both may be true at
 * once; then the episode counts as terminated.
 *
 * <h2>Writing one's own</h2>
 * A robot arm with three joints, torque-controlled, 200 steps per episode:
 * <pre>{@code
 * final class ArmEnvironment implements Environment {
 *     private final Arm arm;                                 // the driver or simulator
 *     private int steps;
 *
 *     public Space observationSpace() {                      // 3 angles, 3 velocities
 *         return Space.Box.of(6, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY);
 *     }
 *
 *     public Space actionSpace() {                           // a torque per joint
 *         return Space.Box.of(3, -1f, 1f);
 *     }
 *
 *     public float[] reset(long seed) {
 *         steps = 0;
 *         arm.moveHome(new java.util.SplittableRandom(seed)); // a seeded, slightly random start
 *         return arm.readSensors();
 *     }
 *
 *     public StepResult step(Action action) {
 *         actionSpace().check(action);
 *         arm.applyTorques(((Action.Continuous) action).values());
 *         float[] obs = arm.readSensors();
 *         boolean reached = arm.distanceToTarget() < 0.01;
 *         double reward = reached ? 1.0 : -arm.distanceToTarget();
 *         return new StepResult(obs, reward, reached, ++steps >= 200);
 *     }
 *
 *     public void close() {
 *         arm.release();
 *     }
 * }
 * }</pre>
 * {@link ClassicControl} holds three ready-made ones, identical to Gymnasium's.
 */
public interface Environment extends AutoCloseable {

    /** The space every observation belongs to. */
    Space observationSpace();

    /** The space of valid actions. */
    Space actionSpace();

    /**
     * Starts a new episode; the start state is drawn from {@code seed}.
     *
     * @return the first observation (a fresh array)
     */
    float[] reset(long seed);

    /**
     * Applies {@code action} for one step.
     *
     * @throws IllegalArgumentException when the action is not in {@link #actionSpace()}
     * @throws IllegalStateException    before the first {@link #reset} or after the episode ended
     */
    StepResult step(Action action);

    /** Frees what the environment holds; the default holds nothing. */
    @Override
    default void close() {}
}

package dev.tributary.rl.env;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** The contract every classic-control environment keeps: spaces, seeded resets, call order, refusals. */
class ClassicControlTest {

    static Iterable<String> ids() {
        return ClassicControl.ids();
    }

    @ParameterizedTest
    @MethodSource("ids")
    void sameSeedGivesSameStartAndOtherSeedsDiffer(String id) {
        try (Environment a = ClassicControl.make(id); Environment b = ClassicControl.make(id)) {
            float[] first = a.reset(42);
            assertArrayEquals(first, b.reset(42));
            assertFalse(Arrays.equals(first, b.reset(43)));
        }
    }

    @ParameterizedTest
    @MethodSource("ids")
    void observationsStayInTheObservationSpace(String id) {
        try (Environment env = ClassicControl.make(id)) {
            Space.Box box = (Space.Box) env.observationSpace();
            java.util.SplittableRandom rng = new java.util.SplittableRandom(7);
            for (int episode = 0; episode < 5; episode++) {
                float[] obs = env.reset(episode);
                assertTrue(box.contains(obs), id + " start " + Arrays.toString(obs));
                StepResult r;
                do {
                    r = env.step(randomAction(env.actionSpace(), rng));
                    assertTrue(box.contains(r.observation()), id + " " + Arrays.toString(r.observation()));
                } while (!r.done());
            }
        }
    }

    @Test
    void startStatesFollowGymnasiumsRanges() {
        for (long seed = 0; seed < 200; seed++) {
            for (double v : startState(CartPole.ID, seed)) {
                assertTrue(Math.abs(v) <= 0.05, "cartpole start " + v);
            }
            for (double v : startState(Acrobot.ID, seed)) {
                assertTrue(Math.abs(v) <= 0.1, "acrobot start " + v);
                assertEquals((float) v, v, "acrobot starts from floats, as Gymnasium does");
            }
            double[] p = startState(Pendulum.ID, seed);
            assertTrue(Math.abs(p[0]) <= Math.PI && Math.abs(p[1]) <= 1.0, "pendulum start " + Arrays.toString(p));
        }
    }

    @Test
    void truncatesAtTheTimeLimitAndRefusesStepsAfterTheEnd() {
        Environment env = ClassicControl.pendulum();
        assertThrows(IllegalStateException.class, () -> env.step(Action.of(0f)), "step before reset");
        env.reset(1);
        for (int t = 1; t < 200; t++) {
            assertFalse(env.step(Action.of(0f)).done(), "step " + t);
        }
        StepResult last = env.step(Action.of(0f));
        assertTrue(last.truncated() && !last.terminated());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> env.step(Action.of(0f)));
        assertTrue(e.getMessage().contains("call reset"), e.getMessage());
        env.reset(2);
        assertFalse(env.step(Action.of(0f)).done(), "a reset starts a new episode");
    }

    @Test
    void refusesActionsOutsideTheSpace() {
        Environment cartPole = ClassicControl.cartPole();
        cartPole.reset(0);
        assertEquals("action 2 outside [0, 2)",
                assertThrows(IllegalArgumentException.class, () -> cartPole.step(Action.of(2))).getMessage());
        assertThrows(IllegalArgumentException.class, () -> cartPole.step(Action.of(1f)));

        Environment pendulum = ClassicControl.pendulum();
        pendulum.reset(0);
        assertThrows(IllegalArgumentException.class, () -> pendulum.step(Action.of(Float.NaN)));
        assertThrows(IllegalArgumentException.class, () -> pendulum.step(Action.of(1f, 1f)));
        assertThrows(IllegalArgumentException.class, () -> pendulum.step(Action.of(0)));
        assertFalse(pendulum.step(Action.of(5f)).done(), "a torque beyond the limit is clipped, as in Gymnasium");
    }

    @Test
    void resetToRefusesMalformedStates() {
        ClassicEnvironment env = (ClassicEnvironment) ClassicControl.cartPole();
        assertThrows(IllegalArgumentException.class, () -> env.resetTo(new double[3]));
        assertThrows(IllegalArgumentException.class, () -> env.resetTo(new double[] {0, Double.NaN, 0, 0}));
    }

    @Test
    void makeNamesTheKnownIds() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ClassicControl.make("MountainCar-v0"));
        assertEquals("unknown environment MountainCar-v0 (known: CartPole-v1, Acrobot-v1, Pendulum-v1)",
                e.getMessage());
    }

    @Test
    void angleNormalizeUsesTheFlooredRemainder() {
        assertEquals(-Math.PI, Pendulum.angleNormalize(Math.PI), 1e-15);
        assertEquals(0.5, Pendulum.angleNormalize(0.5 + 4 * Math.PI), 1e-12);
        assertEquals(-0.5, Pendulum.angleNormalize(-0.5 - 6 * Math.PI), 1e-12);
    }

    private static double[] startState(String id, long seed) {
        ClassicEnvironment env = (ClassicEnvironment) ClassicControl.make(id);
        env.reset(seed);
        return env.state();
    }

    private static Action randomAction(Space space, java.util.SplittableRandom rng) {
        return switch (space) {
            case Space.Discrete d -> Action.of(rng.nextInt(d.n()));
            case Space.Box b -> Action.of((float) (rng.nextDouble() * 4 - 2));
        };
    }
}

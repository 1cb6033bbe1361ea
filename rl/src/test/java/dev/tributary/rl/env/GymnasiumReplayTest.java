package dev.tributary.rl.env;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Replays trajectories recorded with Gymnasium (see {@code src/test/python/record_classic_control.py}): from
 * the recorded start state, the recorded actions must give the same states and observations within 1e-6,
 * the same rewards, and the same terminated/truncated flags at the same steps.
 */
class GymnasiumReplayTest {
    private static final double TOLERANCE = 1e-6;
    private static final List<String> FIXTURES = List.of("cartpole.json", "acrobot.json", "pendulum.json");

    static Stream<Arguments> runs() {
        List<Arguments> out = new ArrayList<>();
        for (String f : FIXTURES) {
            GymnasiumFixture fixture = GymnasiumFixture.load(f);
            for (GymnasiumFixture.Run run : fixture.runs()) {
                out.add(Arguments.of(fixture.env() + " " + run.name(), fixture, run));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("runs")
    void replayMatchesGymnasium(String label, GymnasiumFixture fixture, GymnasiumFixture.Run run) {
        ClassicEnvironment env = (ClassicEnvironment) ClassicControl.make(fixture.env());
        assertEquals(fixture.maxEpisodeSteps(), env.maxEpisodeSteps(), "time limit");

        float[] first = env.resetTo(run.startState());
        assertClose(run.startObservation(), first, label + " start observation");
        for (int t = 0; t < run.length(); t++) {
            String at = label + " step " + t;
            StepResult r = env.step(run.action(env, t));
            assertClose(run.states()[t], env.state(), at + " state");
            assertClose(run.observations()[t], r.observation(), at + " observation");
            assertEquals(run.rewards()[t], r.reward(), TOLERANCE, at + " reward");
            assertEquals(run.terminated()[t], r.terminated(), at + " terminated");
            assertEquals(run.truncated()[t], r.truncated(), at + " truncated");
        }
        assertThrows(IllegalStateException.class, () -> env.step(run.action(env, 0)), "step after the end");
    }

    /** The fixtures cover both ways an episode ends, and the truncations happen at the time limit. */
    @Test
    void fixturesReachTerminationAndTruncation() {
        for (String f : FIXTURES) {
            GymnasiumFixture fixture = GymnasiumFixture.load(f);
            boolean terminated = false;
            boolean truncated = false;
            for (GymnasiumFixture.Run run : fixture.runs()) {
                int last = run.length() - 1;
                terminated |= run.terminated()[last];
                if (run.truncated()[last]) {
                    truncated = true;
                    assertEquals(fixture.maxEpisodeSteps(), run.length(), fixture.env() + " " + run.name());
                }
            }
            assertTrue(truncated, fixture.env() + " has a run truncated at the time limit");
            assertTrue(terminated || fixture.env().equals(Pendulum.ID), fixture.env() + " has a terminated run");
        }
    }

    private static void assertClose(double[] expected, double[] actual, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], TOLERANCE, what + "[" + i + "]");
        }
    }

    private static void assertClose(double[] expected, float[] actual, String what) {
        double[] widened = new double[actual.length];
        for (int i = 0; i < actual.length; i++) {
            widened[i] = actual[i];
        }
        assertClose(expected, widened, what);
    }
}

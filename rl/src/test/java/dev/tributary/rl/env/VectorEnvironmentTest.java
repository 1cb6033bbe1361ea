package dev.tributary.rl.env;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Same-step autoreset, final observations, episode returns and reproducible seeds. */
class VectorEnvironmentTest {

    @Test
    void resetsEndedEpisodesAndKeepsTheirFinalObservation() {
        try (VectorEnvironment envs = new VectorEnvironment(
                List.of(ClassicControl.cartPole(), ClassicControl.cartPole()), 10)) {
            float[][] obs = envs.reset();
            assertArrayEquals(ClassicControl.cartPole().reset(10), obs[0]);
            assertArrayEquals(ClassicControl.cartPole().reset(11), obs[1]);
            Action right = Action.of(1);
            int steps = 0;
            VectorEnvironment.Step step;
            do {
                step = envs.step(new Action[] {right, right});
                steps++;
                assertTrue(steps < 100, "always pushing right ends an episode quickly");
            } while (!step.done(0));
            assertTrue(step.terminated()[0]);
            assertNotNull(step.finalObservations()[0]);
            assertEquals(steps, step.episodeReturns()[0], 0, "+1 per step");
            assertEquals(steps, step.episodeLengths()[0]);
            assertArrayEquals(ClassicControl.cartPole().reset(10 + 2), step.observations()[0],
                    "episode 1 of copy 0 starts from seed + 0 + 1·2");
            if (!step.done(1)) {
                assertNull(step.finalObservations()[1]);
                assertTrue(Double.isNaN(step.episodeReturns()[1]));
            }
        }
    }

    @Test
    void refusesMismatchedInput() {
        assertThrows(IllegalArgumentException.class,
                () -> new VectorEnvironment(List.of(ClassicControl.cartPole(), ClassicControl.acrobot()), 0));
        try (VectorEnvironment envs = new VectorEnvironment(List.of(ClassicControl.cartPole()), 0)) {
            assertThrows(IllegalStateException.class, () -> envs.step(new Action[] {Action.of(0)}));
            envs.reset();
            assertThrows(IllegalArgumentException.class, () -> envs.step(new Action[0]));
        }
    }
}

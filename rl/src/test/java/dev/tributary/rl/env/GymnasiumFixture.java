package dev.tributary.rl.env;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * A trajectory file written by {@code src/test/python/record_classic_control.py} with Gymnasium: per run the
 * start state, then for every step the action and what Gymnasium returned.
 */
record GymnasiumFixture(String env, String gymnasium, String numpy, int maxEpisodeSteps, List<Run> runs) {

    record Run(String name, long resetSeed, double[] startState, double[] startObservation, double[] actions,
               double[][] states, double[][] observations, double[] rewards, boolean[] terminated,
               boolean[] truncated) {

        int length() {
            return actions.length;
        }

        Action action(Environment e, int step) {
            return e.actionSpace() instanceof Space.Discrete
                    ? Action.of((int) actions[step])
                    : Action.of((float) actions[step]);
        }
    }

    static GymnasiumFixture load(String resource) {
        ObjectMapper json = new ObjectMapper()
                .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
        try (InputStream in = GymnasiumFixture.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("no test resource " + resource);
            }
            return json.readValue(in, GymnasiumFixture.class);
        } catch (IOException e) {
            throw new UncheckedIOException(resource, e);
        }
    }
}

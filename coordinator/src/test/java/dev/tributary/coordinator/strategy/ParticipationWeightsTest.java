package dev.tributary.coordinator.strategy;

import static dev.tributary.coordinator.strategy.Fixtures.scalar;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.TensorMap;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ParticipationWeightsTest {

    private static Update from(String worker, int n) {
        return new Update("u" + n, 0, 1, 1, scalar(0), Map.of(), worker);
    }

    /** Against a brute-force count of the intervals, each capped, averaged over the last MEMORY, over N̂. */
    @Test
    void theWeightIsTheMeanCappedIntervalOverTheWorkers() {
        double cap = 3;
        ParticipationWeights weights = new ParticipationWeights(cap);
        Random rnd = new Random(5);
        Map<String, Long> last = new HashMap<>();
        Map<String, Integer> seen = new HashMap<>();
        Map<String, Double> mean = new HashMap<>();
        int n = 0;
        for (int publish = 0; publish < 200; publish++) {
            List<Update> merged = new ArrayList<>();
            for (int k = 0; k < 1 + rnd.nextInt(4); k++) {
                // Worker 0 pushes about half the updates, workers 1..6 share the rest, 7 comes rarely.
                int w = rnd.nextInt(10) < 5 ? 0 : rnd.nextInt(100) < 97 ? 1 + rnd.nextInt(6) : 7;
                merged.add(from("w" + w, n++));
            }
            weights.published(merged);
            long count = n - merged.size();
            for (Update u : merged) {
                count++;
                String w = u.worker();
                if (last.containsKey(w)) {
                    double interval = Math.min(count - last.get(w), cap * (last.size()));
                    int s = Math.min(ParticipationWeights.MEMORY, seen.get(w) + 1);
                    seen.put(w, s);
                    mean.put(w, mean.get(w) + (interval - mean.get(w)) / s);
                } else {
                    seen.put(w, 0);
                    mean.put(w, 0.0);
                }
                last.put(w, count);
            }
            for (String w : last.keySet()) {
                double expected = seen.get(w) == 0 ? 1 : mean.get(w) / last.size();
                assertEquals(expected, weights.weight(w), 1e-12, w + " after publish " + publish);
            }
        }
        assertEquals(1, weights.weight("never-seen"));
        assertEquals(1, weights.weight(""), "an update without a worker weighs the mean");
        assertTrue(weights.weight("w0") < weights.weight("w1"), "the frequent worker weighs less");
    }

    /** Workers pushing at fixed rates: each weighs its interval, and the weights average 1 over the updates. */
    @Test
    void weightsFollowTheInverseRateAndAverageOneOverTheUpdates() {
        ParticipationWeights weights = new ParticipationWeights(100);
        int[] period = {1, 2, 4, 8}; // worker i pushes every period[i] ticks
        List<String> stream = new ArrayList<>();
        for (int t = 0; t < 800; t++) {
            for (int i = 0; i < period.length; i++) {
                if (t % period[i] == 0) {
                    stream.add("w" + i);
                }
            }
        }
        for (int i = 0; i < stream.size(); i++) {
            weights.published(List.of(from(stream.get(i), i)));
        }
        // Updates per tick: 1 + 1/2 + 1/4 + 1/8 = 15/8, so worker i's interval is 15/8 · period[i] updates.
        for (int i = 0; i < period.length; i++) {
            assertEquals(15.0 / 8 * period[i] / 4, weights.weight("w" + i), 0.02, "w" + i);
        }
        double sum = 0;
        for (String w : stream) {
            sum += weights.weight(w);
        }
        assertEquals(1, sum / stream.size(), 0.01, "the mean weight over the updates");
    }

    @Test
    void holdsAtMostTheWindowHoweverManyIdsAndCapsAReturningWorker() {
        ParticipationWeights weights = new ParticipationWeights(2);
        weights.published(List.of(from("back", 0), from("back", 1)));
        for (int i = 0; i < 5 * WorkerClock.WINDOW; i++) {
            // A new id for every update, as a hostile client registering ids would send.
            weights.published(List.of(from("id" + i, i + 2)));
            assertTrue(weights.size() <= WorkerClock.WINDOW + 1, "held " + weights.size());
        }
        assertEquals(1, weights.weight("back"), "dropped as least recently merged: weighs as new");
        weights.published(List.of(from("back", -1)));
        weights.published(List.of(from("back", -2)));
        assertEquals(1.0 / weights.size(), weights.weight("back"), 1e-12);
        // Away for 3,000 updates, it comes back with an interval of at most cap × N̂ = 2 × N̂.
        for (int i = 0; i < 3000; i++) {
            weights.published(List.of(from("id" + (i % 500), i)));
        }
        weights.published(List.of(from("back", -3)));
        double expected = (1 + (2.0 * weights.size() - 1) / 2) / weights.size();
        assertEquals(expected, weights.weight("back"), 1e-12);
    }

    @Test
    void writesAndReadsBackAnyWorkerIdAndRefusesACorruptState() {
        ParticipationWeights weights = new ParticipationWeights(10);
        for (int i = 0; i < 40; i++) {
            weights.published(List.of(from(i % 3 == 0 ? "a,b:c\u00e9" : i % 5 == 0 ? "" : "plain" + i % 2, i)));
        }
        TensorMap state = new TensorMap();
        weights.write(state);
        ParticipationWeights back = new ParticipationWeights(10);
        back.read(state);
        for (String w : List.of("a,b:c\u00e9", "plain0", "plain1", "")) {
            assertEquals(weights.weight(w), back.weight(w), 0, w);
        }
        weights.published(List.of(from("plain1", 41)));
        back.published(List.of(from("plain1", 41)));
        assertEquals(weights.weight("plain1"), back.weight("plain1"), 0, "the count since the last carries over");

        ParticipationWeights untouched = new ParticipationWeights(10);
        untouched.read(state);
        List<List<String>> corrupt = List.of( // key, value, the end of the message
                List.of("participation/merged", "-4", "participation count \"-4\" is not a whole number >= 0"),
                List.of("participation/workers", "5:1:2.0", "\"5:1:2.0\": not last:seen:mean:worker"),
                List.of("participation/workers", "99:1:2.0:YQ", "\"99:1:2.0:YQ\": last 99 is not in [1, 41]"),
                List.of("participation/workers", "5:40:2.0:YQ", "\"5:40:2.0:YQ\": seen 40 is above 32"),
                List.of("participation/workers", "5:1:NaN:YQ", "\"5:1:NaN:YQ\": the mean NaN is not finite and > 0"),
                List.of("participation/workers", "5:1:2.0:***", "\"5:1:2.0:***\": the worker is not base64"));
        for (List<String> c : corrupt) {
            TensorMap bad = new TensorMap();
            weights.write(bad);
            bad.putMetadata(c.get(0), c.get(1));
            IllegalArgumentException x = assertThrows(IllegalArgumentException.class, () -> untouched.read(bad));
            assertTrue(x.getMessage().startsWith("fedbuff state: "), x.getMessage());
            assertTrue(x.getMessage().endsWith(c.get(2)), x.getMessage());
            assertEquals(back.weight("plain0"), untouched.weight("plain0"), 0, "nothing changed by " + c.get(1));
        }
    }
}

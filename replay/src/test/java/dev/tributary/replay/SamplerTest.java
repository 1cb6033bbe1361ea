package dev.tributary.replay;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The samplers: FIFO order; uniform and prioritized frequencies against their distributions with a
 * chi-square test (p = 0.001 critical values, fixed seeds); the sum tree against brute force; the same
 * samples for the same seed and history, with and without restarts in between.
 */
class SamplerTest {
    static final int DRAWS = 100_000;
    /** Chi-square critical values at p = 0.001, by degrees of freedom. */
    static final Map<Integer, Double> CRITICAL = Map.of(4, 18.467, 7, 24.322, 8, 26.124, 9, 27.877);

    @TempDir
    Path dir;

    static Map<String, Integer> counts(Table t, int draws) throws InterruptedException {
        Map<String, Integer> c = new HashMap<>();
        for (int done = 0; done < draws; ) {
            List<Item> got = t.sample(Math.min(1000, draws - done), Duration.ZERO);
            got.forEach(i -> c.merge(i.id(), 1, Integer::sum));
            done += got.size();
        }
        return c;
    }

    static double chiSquare(Map<String, Integer> observed, Map<String, Double> probability, int draws) {
        double x = 0;
        for (Map.Entry<String, Double> e : probability.entrySet()) {
            double expected = e.getValue() * draws;
            double d = observed.getOrDefault(e.getKey(), 0) - expected;
            x += d * d / expected;
        }
        return x;
    }

    @Test
    void fifoHandsOutTheOldestEachOncePerCall() throws Exception {
        try (Table t = TestItems.open(dir, TableConfig.fifoQueue(10).withLimiter(RateLimiter.minSize(1)))) {
            for (int i = 0; i < 5; i++) {
                TestItems.insert(t, "i" + i, 5 - i);
            }
            assertEquals(List.of("i0", "i1", "i2"), ids(t.sample(3, Duration.ZERO)));
            assertEquals(List.of("i0", "i1", "i2", "i3", "i4"), ids(t.sample(9, Duration.ofMillis(20))), "each once per call");
            t.remove(List.of("i0", "i2")).join();
            assertEquals(List.of("i1", "i3"), ids(t.sample(2, Duration.ZERO)));
            assertEquals(List.of(1L, 3L, 4L), t.sample(3, Duration.ZERO).stream().map(Item::sequence).toList());
        }
    }

    static List<String> ids(List<Item> items) {
        return items.stream().map(Item::id).toList();
    }

    @Test
    void uniformDrawsEveryItemEquallyOften() throws Exception {
        for (long seed : new long[] {1, 2, 3}) {
            try (Table t = TestItems.open(dir.resolve("u" + seed), TableConfig.uniformReplay(100, 1, seed))) {
                Map<String, Double> p = new HashMap<>();
                for (int i = 0; i < 12; i++) {
                    TestItems.insert(t, "i" + i, i);
                }
                t.remove(List.of("i3", "i7")).join(); // holes filled by moving the last slots
                for (int i = 0; i < 12; i++) {
                    if (i != 3 && i != 7) {
                        p.put("i" + i, 0.1);
                    }
                }
                Map<String, Integer> c = counts(t, DRAWS);
                assertEquals(p.keySet(), c.keySet());
                double x = chiSquare(c, p, DRAWS);
                assertTrue(x < CRITICAL.get(9), "seed " + seed + ": chi-square " + x + " " + c);
            }
        }
    }

    @Test
    void prioritizedDrawsInProportionToPriorityToTheExponent() throws Exception {
        double[] priorities = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9.5};
        for (double alpha : new double[] {1.0, 0.5, 2.0, 0.0}) {
            Path d = dir.resolve("p" + alpha);
            try (Table t = TestItems.open(d, TableConfig.prioritizedReplay(100, alpha, 1, 11))) {
                for (int i = 0; i < priorities.length; i++) {
                    TestItems.insert(t, "i" + i, priorities[i]);
                }
                TestItems.insert(t, "gone", 1000);
                t.remove(List.of("gone", "i4")).join();
                Map<String, Double> p = new HashMap<>();
                double sum = 0;
                for (int i = 0; i < priorities.length; i++) {
                    if (i != 4 && (alpha == 0 || priorities[i] > 0)) {
                        sum += Math.pow(priorities[i], alpha);
                    }
                }
                for (int i = 0; i < priorities.length; i++) {
                    if (i != 4 && (alpha == 0 || priorities[i] > 0)) {
                        p.put("i" + i, Math.pow(priorities[i], alpha) / sum);
                    }
                }
                Map<String, Integer> c = counts(t, DRAWS);
                assertEquals(p.keySet(), c.keySet(), "alpha " + alpha + ": a zero weight is never drawn, every other is");
                double x = chiSquare(c, p, DRAWS);
                int df = p.size() - 1;
                assertTrue(x < CRITICAL.get(df), "alpha " + alpha + ": chi-square " + x + " > " + CRITICAL.get(df) + " " + c);
            }
        }
    }

    @Test
    void prioritizedWithEveryWeightZeroDrawsUniformly() throws Exception {
        try (Table t = TestItems.open(dir, TableConfig.prioritizedReplay(100, 1, 1, 5))) {
            for (int i = 0; i < 5; i++) {
                TestItems.insert(t, "i" + i, 0);
            }
            Map<String, Double> p = new HashMap<>();
            for (int i = 0; i < 5; i++) {
                p.put("i" + i, 0.2);
            }
            double x = chiSquare(counts(t, 20_000), p, 20_000);
            assertTrue(x < CRITICAL.get(4), "chi-square " + x);
        }
    }

    @Test
    void theSumTreeFindsWhatBruteForceFinds() {
        Random r = new Random(3);
        SumTree tree = new SumTree(1);
        double[] w = new double[300];
        for (int step = 0; step < 5000; step++) {
            int i = r.nextInt(w.length);
            w[i] = r.nextInt(4) == 0 ? 0 : r.nextDouble() * 10;
            tree.set(i, w[i]);
            double total = 0;
            for (double v : w) {
                total += v;
            }
            assertEquals(total, tree.total(), 1e-9 * total);
            if (total == 0) {
                continue;
            }
            double target = r.nextDouble() * total;
            int found = tree.find(target);
            double before = 0;
            for (int k = 0; k < found; k++) {
                before += w[k];
            }
            assertTrue(w[found] > 0, "a zero weight was found");
            assertTrue(before <= target + 1e-9 && target < before + w[found] + 1e-9, "target " + target + " at " + found);
        }
        int last = w.length - 1;
        while (w[last] == 0) {
            last--;
        }
        assertEquals(last, tree.find(tree.total() * 2), "past the end: the last positive weight");
    }

    /** Inserts, samples and removes in a fixed pattern; returns the ids sampled. */
    static List<String> history(Table t, int from, int to) throws InterruptedException {
        List<String> sampled = new ArrayList<>();
        for (int step = from; step < to; step++) {
            TestItems.insert(t, "s" + step, 1 + step % 7);
            if (step % 3 == 0) {
                sampled.addAll(ids(t.sample(4, Duration.ZERO)));
            }
            if (step % 5 == 4) {
                t.remove(List.of("s" + (step - 2), "s" + (step / 2))).join();
            }
        }
        return sampled;
    }

    @Test
    void theSameSeedAndHistoryGiveTheSameSamplesAcrossRestarts() throws Exception {
        for (TableConfig config : List.of(TableConfig.uniformReplay(25, 1, 42), TableConfig.prioritizedReplay(25, 0.7, 1, 42))) {
            String name = config.sampler().getClass().getSimpleName();
            List<String> straight;
            List<String> content;
            try (Table t = TestItems.open(dir.resolve(name + "-straight"), config)) {
                straight = history(t, 0, 90);
                content = TestItems.content(t);
            }
            // The same history with a checkpoint and a restart, and a restart from the log alone.
            List<String> restarted = new ArrayList<>();
            Path d = dir.resolve(name + "-restarted");
            try (Table t = TestItems.open(d, config)) {
                restarted.addAll(history(t, 0, 30));
                t.checkpoint(new dev.tributary.tensor.TensorMap());
                restarted.addAll(history(t, 30, 50));
            }
            try (Table t = TestItems.open(d, config)) {
                restarted.addAll(history(t, 50, 70));
            }
            try (Table t = TestItems.open(d, config)) {
                restarted.addAll(history(t, 70, 90));
                assertEquals(content, TestItems.content(t), name);
            }
            assertEquals(straight, restarted, name);
            try (Table t = TestItems.open(dir.resolve(name + "-other-seed"), otherSeed(config))) {
                assertNotEquals(straight, history(t, 0, 90), name + ": another seed draws otherwise");
            }
        }
    }

    static TableConfig otherSeed(TableConfig c) {
        Sampler s = switch (c.sampler()) {
            case Sampler.Uniform u -> Sampler.uniform(u.seed() + 1);
            case Sampler.Prioritized p -> Sampler.prioritized(p.exponent(), p.seed() + 1);
            case Sampler.Fifo f -> f;
        };
        return new TableConfig(s, c.remover(), c.maxSize(), c.limiter(), c.maxItemBytes(), c.memoryBudgetBytes());
    }
}

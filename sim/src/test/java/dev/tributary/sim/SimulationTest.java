package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.store.SafetensorsBytes;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.Tasks;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SimulationTest {
    /** synthetic-logreg trains batches of 32; the tests configure 5 local steps per update. */
    static final int EXAMPLES_PER_UPDATE = 5 * 32;

    static long modelBytes() {
        TensorMap m = Tasks.byName("synthetic-logreg").initialModel(0);
        return SafetensorsBytes.encodedSize(m, Map.of());
    }

    @Test
    void sameConfigAndSeedGiveTheSameReport() {
        SimConfig c = Configs.parse(Configs.synthetic(6, Map.of("name", "fedbuff", "buffer_size", 3), 200));
        Simulation.Result a = Simulation.run(c, null);
        Simulation.Result b = Simulation.run(c, null);
        assertEquals(Reports.toJson(a.report().withWallSeconds(0)), Reports.toJson(b.report().withWallSeconds(0)));
        assertEquals(a.report().withWallSeconds(0), b.report().withWallSeconds(0));
        assertEquals(a.refused(), b.refused());
        assertTrue(a.report().updates() > 10, "updates " + a.report().updates());
        Simulation.Result other = Simulation.run(c.withSeed(8), null);
        assertNotEquals(a.report().curve(), other.report().curve());
    }

    @Test
    void fedAsyncStalenessIsTheNumberOfPublishesSinceThePull() {
        // Equal speeds: all clients arrive together each wave, in client order. In the first wave client i
        // finds i publishes since its pull; afterwards every client finds the other n - 1.
        int n = 4;
        int waves = 3;
        Map<String, Object> m = Configs.synthetic(n, Map.of("name", "fedasync"), 100);
        m = Configs.with(m, "speeds", Map.of("distribution", "constant", "median", 64));
        m = Configs.with(m, "budget", Map.of("virtual_seconds", 100, "updates", n * waves));
        Simulation.Result r = Simulation.run(Configs.parse(m), null);

        List<Long> expected = new ArrayList<>();
        for (int w = 0; w < waves; w++) {
            for (int i = 0; i < n; i++) {
                expected.add(w == 0 ? (long) i : n - 1);
            }
        }
        double mean = expected.stream().mapToLong(Long::longValue).average().orElseThrow();
        long[] sorted = expected.stream().mapToLong(Long::longValue).sorted().toArray();
        SimReport.Staleness s = r.report().staleness();
        assertEquals(mean, s.mean(), 1e-12);
        assertEquals(sorted[(int) Math.ceil(0.5 * sorted.length) - 1], s.p50());
        assertEquals(sorted[(int) Math.ceil(0.99 * sorted.length) - 1], s.p99());
        assertEquals(sorted[sorted.length - 1], s.max());
        assertEquals(n * waves, r.report().updates());
        assertEquals(n * waves, r.version(), "fedasync publishes every update");
        double duration = EXAMPLES_PER_UPDATE / 64.0;
        assertEquals(waves * duration, r.report().virtualSeconds(), 1e-9, "stops at the arrival that spends the budget");
    }

    @Test
    void synchronousRoundsWaitForTheSlowestClient() {
        int n = 5;
        Map<String, Object> m = Configs.synthetic(n, Map.of("name", "fedavg"), 100);
        SimConfig probe = Configs.parse(m);
        double slowest = Arrays.stream(ClientSpeeds.draw(probe.speeds(), n, probe.seed())).min().orElseThrow();
        double round = EXAMPLES_PER_UPDATE / slowest;
        int rounds = 7;
        m = Configs.with(m, "budget", Map.of("virtual_seconds", (rounds + 0.5) * round));
        Simulation.Result r = Simulation.run(Configs.parse(m), null);

        assertEquals(rounds, r.version());
        assertEquals(0, r.report().staleness().max(), "a round only takes updates trained from its own version");
        // Every client pulls once per version (the last one included) and pushes once per finished round,
        // plus whatever the fast clients already pushed into the unfinished round.
        assertEquals((long) n * (rounds + 1) * modelBytes(), r.report().bytesDown());
        assertTrue(r.report().updates() >= (long) n * rounds && r.report().updates() < (long) n * (rounds + 1),
                "updates " + r.report().updates());
        assertTrue(r.refused().isEmpty(), "refused " + r.refused());
    }

    @Test
    void churnLosesTheUpdatesInFlightAndNothingElse() {
        Map<String, Object> m = Configs.synthetic(3, Map.of("name", "fedasync"), 300);
        m = Configs.with(m, "speeds", Map.of("distribution", "constant", "median", 64));
        Simulation.Result steady = Simulation.run(Configs.parse(m), null);
        // Updates take 2.5 s; online periods average 2 s, so many end while an update is in flight.
        m = Configs.with(m, "churn", Map.of("mean_online_s", 2, "mean_offline_s", 1));
        Simulation.Result churned = Simulation.run(Configs.parse(m), null);

        assertEquals(0, steady.lost());
        assertTrue(churned.lost() > 0, "nothing lost");
        long bytes = modelBytes();
        long pulls = churned.report().bytesDown() / bytes;
        assertEquals(churned.pushed() * bytes, churned.report().bytesUp(), "a lost update is never uploaded");
        long unaccounted = pulls - churned.pushed() - churned.lost();
        assertTrue(unaccounted >= 0 && unaccounted <= 3, "each pull is pushed, lost, or still in flight: " + unaccounted);
        assertEquals(churned.pushed(), churned.report().updates(), "fedasync accepts every arriving update");
        assertTrue(churned.report().updates() < steady.report().updates());
    }

    @Test
    void reportCountsBytesCurveAndTarget() {
        int n = 4;
        double budget = 60;
        Map<String, Object> m = Configs.synthetic(n, Map.of("name", "fedbuff", "buffer_size", 2), budget);
        Simulation.Result r = Simulation.run(Configs.parse(m), null);
        SimReport rep = r.report();
        long bytes = modelBytes();

        assertEquals("fedbuff", rep.strategy());
        assertEquals(n, rep.clients());
        assertEquals(7, rep.seed());
        assertEquals(budget, rep.virtualSeconds());
        assertEquals(rep.updates(), r.pushed(), "nothing refused");
        assertEquals(r.pushed() * bytes, rep.bytesUp());
        assertEquals((r.pushed() + n) * bytes, rep.bytesDown(), "every client pulled once more than it pushed");
        assertEquals(21, rep.curve().size());
        for (int k = 0; k < rep.curve().size(); k++) {
            assertEquals(k * budget / 20, rep.curve().get(k).virtualSeconds(), 1e-9);
        }
        assertEquals(rep.curve().getLast().accuracy(), rep.finalAccuracy());
        assertEquals(0, rep.curve().getFirst().bytes(), "nothing moved before the first evaluation");
        for (int k = 1; k < rep.curve().size(); k++) {
            assertTrue(rep.curve().get(k).bytes() >= rep.curve().get(k - 1).bytes(), "bytes went down at " + k);
        }
        assertEquals(rep.bytesUp() + rep.bytesDown(), rep.curve().getLast().bytes(), "the last point holds every byte");
        // The n first pulls all complete at time 0 (no network delay): one window holds them all.
        assertTrue(rep.peakBytesPerSecond() >= n * bytes, "peak " + rep.peakBytesPerSecond());
        assertTrue(rep.peakBytesPerSecond() < rep.bytesUp() + rep.bytesDown(), "the peak is one window, not the total");
        assertTrue(rep.peakUpBytesPerSecond() >= bytes && rep.peakUpBytesPerSecond() <= rep.peakBytesPerSecond(),
                "push peak " + rep.peakUpBytesPerSecond());
        // Leaving out the first pulls keeps every push and later pull: between the push peak and the whole peak.
        assertTrue(rep.peakAfterStartBytesPerSecond() >= rep.peakUpBytesPerSecond()
                && rep.peakAfterStartBytesPerSecond() <= rep.peakBytesPerSecond(), "peak after the start "
                + rep.peakAfterStartBytesPerSecond());
        Double first = rep.curve().stream().filter(p -> p.accuracy() >= 0.8).map(SimReport.Point::virtualSeconds)
                .findFirst().orElse(null);
        assertEquals(0.8, rep.timeToTarget().target());
        assertEquals(first, rep.timeToTarget().virtualSeconds());
        assertTrue(rep.finalAccuracy() > rep.curve().getFirst().accuracy() + 0.2, "no learning: " + rep.curve());

        Simulation.Result never = Simulation.run(Configs.parse(Configs.with(m, "target", 1.0)), null);
        assertEquals(1.0, never.report().timeToTarget().target());
        assertNull(never.report().timeToTarget().virtualSeconds());
    }

    @Test
    void updatesGoThroughTheCoordinatorsValidator() {
        Map<String, Object> m = Configs.synthetic(3, Map.of("name", "fedasync"), 30);
        Simulation.Result refused = Simulation.run(Configs.parse(Configs.with(m, "validation.max_delta_norm", 1e-6)), null);
        assertEquals(0, refused.report().updates());
        assertEquals(0, refused.version());
        assertEquals(Map.of("norm", refused.pushed()), refused.refused());
        assertTrue(refused.pushed() > 0);
        double initial = refused.report().curve().getFirst().accuracy();
        assertTrue(refused.report().curve().stream().allMatch(p -> p.accuracy() == initial), "the model moved");

        Map<String, Object> clip = Configs.with(Configs.with(m, "validation.max_delta_norm", 1e-6),
                "validation.norm_policy", "clip");
        Simulation.Result clipped = Simulation.run(Configs.parse(clip), null);
        assertEquals(clipped.pushed(), clipped.report().updates());
        assertTrue(clipped.refused().isEmpty());
    }

    @Test
    void progressReachesTheBudget() {
        List<Simulation.Progress> seen = new ArrayList<>();
        SimConfig c = Configs.parse(Configs.synthetic(3, Map.of("name", "fedbuff", "buffer_size", 2), 40));
        Simulation.Result r = Simulation.run(c, seen::add);
        assertEquals(40, seen.getLast().virtualSeconds());
        assertEquals(r.version(), seen.getLast().version());
        assertEquals(r.report().updates(), seen.getLast().updates());
        for (int k = 1; k < seen.size(); k++) {
            assertTrue(seen.get(k).virtualSeconds() >= seen.get(k - 1).virtualSeconds(), "the clock went back");
        }
    }

    @Test
    void aConcurrencyLimitKeepsAtMostThatManyClientsTrainingAndDrawsThemFromEveryone() {
        Map<String, Object> m = Configs.with(Configs.synthetic(20, Map.of("name", "fedbuff", "buffer_size", 2), 300),
                "participation", Map.of("concurrency", 4));
        Simulation.Result r = Simulation.run(Configs.parse(m), null);
        assertEquals(4, r.peakTraining());
        assertTrue(r.report().updates() > 40, "updates " + r.report().updates());
        assertEquals(Reports.toJson(r.report().withWallSeconds(0)),
                Reports.toJson(Simulation.run(Configs.parse(m), null).report().withWallSeconds(0)), "seeded draws");
        Simulation.Result all = Simulation.run(Configs.parse(Configs.synthetic(20, Map.of("name", "fedbuff",
                "buffer_size", 2), 300)), null);
        assertEquals(20, all.peakTraining());
    }

    @Test
    void roundStrategiesUnderALimitExpectThatManyUpdatesPerRound() {
        for (String strategy : List.of("fedavg", "diloco")) {
            Map<String, Object> s = strategy.equals("fedavg") ? Map.of("name", "fedavg")
                    : Map.of("name", "diloco", "inner_steps", 5, "inner_optimizer", Map.of("name", "sgd", "lr", 0.1));
            Map<String, Object> m = Configs.with(Configs.synthetic(12, s, 300), "participation", Map.of("concurrency", 3));
            Simulation.Result r = Simulation.run(Configs.parse(m), null);
            assertEquals(3, r.peakTraining(), strategy);
            assertTrue(r.version() >= 5, strategy + " version " + r.version());
            assertEquals(r.report().updates(), 3 * r.version() + (r.report().updates() % 3), strategy);
            assertTrue(r.report().finalAccuracy() > 0.7, strategy + " accuracy " + r.report().finalAccuracy());
        }
    }

    /** synthetic-logreg as the simulator runs it, telling the length of every update before it trains. */
    record Announced(Workload inner) implements Workload {
        @Override
        public TensorMap initialModel() {
            return inner.initialModel();
        }

        @Override
        public dev.tributary.worker.TrainResult train(int client, TensorMap weights, long seed) {
            return inner.train(client, weights, seed);
        }

        @Override
        public dev.tributary.worker.Replica open(int client, TensorMap weights, dev.tributary.worker.InnerOptimizer o,
                long seed) {
            return inner.open(client, weights, o, seed);
        }

        @Override
        public long examplesPerUpdate(int client) {
            return EXAMPLES_PER_UPDATE;
        }

        @Override
        public double accuracy(TensorMap weights) {
            return inner.accuracy(weights);
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    @Test
    void clientsTrainingOnSeveralThreadsGiveTheSameReportAsOne() {
        Map<String, Object> m = Configs.with(Configs.synthetic(12, Map.of("name", "fedbuff"), 200), "network",
                Map.of("bandwidth_mbps", 1, "latency_ms", 20));
        String[] reports = new String[3];
        for (int threads = 1; threads <= 3; threads++) {
            SimConfig c = Configs.parse(Configs.with(m, "threads", threads));
            Simulation.Result r = Simulation.run(c, new Announced(Workload.of(c)), null);
            assertTrue(r.report().updates() > 50, "updates " + r.report().updates());
            reports[threads - 1] = Reports.toJson(r.report().withWallSeconds(0));
        }
        assertEquals(reports[0], reports[1]);
        assertEquals(reports[0], reports[2]);
        SimConfig c = Configs.parse(Configs.with(m, "threads", 1));
        assertEquals(reports[0], Reports.toJson(Simulation.run(c, null).report().withWallSeconds(0)),
                "the same as training at the pull");
    }
}

package dev.tributary.coordinator.strategy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class NoLoCoRelayTest {
    private static TensorMap model(float v) {
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {2}, v, -v));
    }

    private static NoLoCoRelay.State state(String worker, long round, float v) {
        return new NoLoCoRelay.State(worker, round, model(v), model(v / 10));
    }

    @Test
    void defaultsFollowThePaper() {
        NoLoCoRelay r = NoLoCoRelay.create(Map.of(), model(0));
        assertEquals(100, r.innerLoop().innerSteps());
        assertEquals(0.3, r.momentum());
        assertEquals(0.7, r.outerLr());
        assertEquals(0.7, r.peerPull(), "γ defaults to the outer lr");
        assertEquals("adamw", r.innerLoop().optimizer().name());
        NoLoCoRelay s = NoLoCoRelay.create(Map.of("inner_steps", 50, "momentum", 0.5, "outer_lr", 0.9, "peer_pull", 0.25,
                "inner_optimizer", Map.of("name", "sgd", "lr", 0.1), "seed", 4), model(0));
        assertEquals(50, s.innerLoop().innerSteps());
        assertEquals(0.25, s.peerPull());
        assertEquals(0.1, s.innerLoop().optimizer().lr());
    }

    @Test
    void badSettingsNameTheKey() {
        assertEquals("noloco.peer_pull: must be in [0, 1], got 2.0", assertThrows(IllegalArgumentException.class,
                () -> NoLoCoRelay.create(Map.of("peer_pull", 2.0), model(0))).getMessage());
        assertEquals("noloco.momentum: must be in [0, 1), got 1.0", assertThrows(IllegalArgumentException.class,
                () -> NoLoCoRelay.create(Map.of("momentum", 1.0), model(0))).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> NoLoCoRelay.create(Map.of("fragments", 2), model(0))).getMessage().startsWith("noloco.fragments: "));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> NoLoCoRelay.create(Map.of("buffer_size", 2), model(0))).getMessage().contains("buffer_size"));
    }

    @Test
    void firstExchangeIsUnpairedThenNeverWithItself() {
        NoLoCoRelay r = NoLoCoRelay.create(Map.of(), model(0));
        NoLoCoRelay.Pairing p = r.exchange(state("a", 0, 1));
        assertNull(p.peer());
        assertEquals(1, p.exchange());
        assertNull(r.exchange(state("a", 1, 2)).peer(), "a worker is never its own peer");
        NoLoCoRelay.Pairing b = r.exchange(state("b", 0, 5));
        assertEquals("a", b.peer().worker());
        assertEquals(1, b.peer().round(), "the peer's latest state");
        assertEquals(2f, b.peer().outer().tensor("w").getFloat(0));
        assertEquals(0.2f, b.peer().outerGradient().tensor("w").getFloat(0), 1e-7);
        assertEquals("b", r.exchange(state("a", 2, 3)).peer().worker());
        assertEquals(2, r.workers());
        // The relay's model is the mean of the latest φ: a at 3, b at 5.
        assertEquals(4f, r.model().tensor("w").getFloat(0), 1e-6);
        assertEquals(-4f, r.model().tensor("w").getFloat(1), 1e-6);
    }

    @Test
    void pairingIsDeterministicForASeedAndUniformOverPeers() {
        List<String> first = pairings(7);
        assertEquals(first, pairings(7));
        assertNotEquals(first, pairings(8));
        Map<String, Integer> counts = new HashMap<>();
        first.forEach(p -> counts.merge(p, 1, Integer::sum));
        // Worker w0 exchanges with four others holding a state: each drawn near a quarter of 400 times.
        assertEquals(4, counts.size(), counts.toString());
        counts.values().forEach(c -> assertTrue(c > 70 && c < 130, counts.toString()));
    }

    private static List<String> pairings(long seed) {
        NoLoCoRelay r = NoLoCoRelay.create(Map.of("seed", seed), model(0));
        for (int i = 1; i <= 4; i++) {
            r.exchange(state("w" + i, 0, i));
        }
        List<String> peers = new ArrayList<>();
        for (int k = 0; k < 400; k++) {
            peers.add(r.exchange(state("w0", k, 0)).peer().worker());
        }
        return peers;
    }

    @Test
    void refusesStatesThatDoNotFitAndKeepsNothingOfThem() {
        NoLoCoRelay r = NoLoCoRelay.create(Map.of(), model(0));
        TensorMap wrong = new TensorMap().put("w", Tensor.ofFloats(new long[] {3}, 1, 2, 3));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> r.exchange(new NoLoCoRelay.State("a", 0, wrong, model(0))));
        assertEquals("outer: tensor w: state shape [3] != model shape [2]", e.getMessage());
        TensorMap nan = new TensorMap().put("w", Tensor.ofFloats(new long[] {2}, 1, Float.NaN));
        e = assertThrows(IllegalArgumentException.class, () -> r.exchange(new NoLoCoRelay.State("a", 0, model(1), nan)));
        assertEquals("outer_gradient: tensor w has a non-finite value NaN", e.getMessage());
        assertEquals(0, r.workers());
        assertEquals(0, r.exchanges());
    }

    @Test
    void aRestartedRelayLosesOnlyItsCacheAndDrawsAsBefore() {
        // Exchanges after a restart find no peer until the others exchange again; the draws then are the
        // ones the relay would have made at the same exchange counts with the same candidates.
        NoLoCoRelay a = NoLoCoRelay.create(Map.of("seed", 3), model(0));
        NoLoCoRelay b = NoLoCoRelay.create(Map.of("seed", 3), model(0));
        for (int i = 0; i < 3; i++) {
            a.exchange(state("w" + i, 0, i));
        }
        b.restore(3);
        assertEquals(0, b.workers());
        assertNull(b.exchange(state("w9", 0, 9)).peer(), "nothing cached after the restart");
        a.exchange(state("w9", 0, 9));
        for (int i = 0; i < 3; i++) {
            a.exchange(state("w" + i, 1, i));
            b.exchange(state("w" + i, 1, i));
        }
        for (int k = 0; k < 20; k++) {
            assertEquals(a.exchange(state("w9", k, 9)).peer().worker(), b.exchange(state("w9", k, 9)).peer().worker());
        }
    }
}

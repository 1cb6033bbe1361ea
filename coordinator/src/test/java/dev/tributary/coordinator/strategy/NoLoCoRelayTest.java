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
    void pairsMatchingAnswersBothMembersWithEachOthersSameRoundState() {
        NoLoCoRelay r = NoLoCoRelay.create(Map.of("matching", "pairs", "match_wait_seconds", 5, "seed", 3), model(0));
        assertTrue(r.pairs());
        assertThrows(IllegalStateException.class, () -> r.exchange(state("a", 0, 1)), "pairs answers through offer()");
        // The first offer: nobody else is known, so it is matched alone at once, with no peer.
        List<NoLoCoRelay.Match> first = r.offer(state("a", 0, 1), 0);
        assertEquals(1, first.size());
        assertNull(first.getFirst().peer());
        // b now waits for a, the other worker the relay knows.
        assertEquals(List.of(), r.offer(state("b", 0, 5), 0.5));
        assertTrue(r.isWaiting("b"));
        assertThrows(IllegalStateException.class, () -> r.offer(state("b", 0, 5), 0.6), "one waiting offer per worker");
        List<NoLoCoRelay.Match> ab = r.offer(state("a", 1, 2), 1);
        assertEquals(2, ab.size(), "a and b: every known worker waits, so they are matched");
        Map<String, NoLoCoRelay.Match> byWorker = new HashMap<>();
        ab.forEach(m -> byWorker.put(m.worker(), m));
        assertEquals("b", byWorker.get("a").peer().worker());
        assertEquals(5f, byWorker.get("a").peer().outer().tensor("w").getFloat(0));
        assertEquals("a", byWorker.get("b").peer().worker());
        assertEquals(1, byWorker.get("b").peer().round(), "b gets a's offer of this round, not an older one");
        assertEquals(2f, byWorker.get("b").peer().outer().tensor("w").getFloat(0));
        assertTrue(byWorker.get("a").mutual() && byWorker.get("b").mutual());
        assertEquals(3, r.exchanges());
        assertEquals(Double.POSITIVE_INFINITY, r.deadline(), "nobody waits");

        // A third worker joins and waits for a and b until its wait runs out: alone, answered one-sided.
        assertEquals(List.of(), r.offer(state("c", 0, 7), 2));
        assertEquals(7, r.deadline(), 1e-12);
        assertEquals(List.of(), r.expire(6.9));
        List<NoLoCoRelay.Match> alone = r.expire(7);
        assertEquals(1, alone.size());
        assertEquals("c", alone.getFirst().worker());
        assertTrue(!alone.getFirst().mutual() && alone.getFirst().peer() != null, "a drawn other worker's latest");
        // Two of three waiting: matched as a pair when the first one's wait runs out.
        assertEquals(List.of(), r.offer(state("a", 2, 3), 10));
        assertEquals(List.of(), r.offer(state("b", 1, 6), 11));
        assertEquals(15, r.deadline(), 1e-12, "a has waited since 10, for 5 s");
        List<NoLoCoRelay.Match> late = r.expire(15);
        assertEquals(2, late.size());
        assertEquals(java.util.Set.of("a", "b"), java.util.Set.of(late.get(0).worker(), late.get(1).worker()));
        assertTrue(late.stream().allMatch(NoLoCoRelay.Match::mutual));

        // A withdrawn worker is no longer waited for.
        assertEquals(List.of(), r.offer(state("a", 3, 4), 20));
        assertTrue(!r.withdraw("c"), "c had no offer waiting; it is forgotten all the same");
        assertTrue(r.isWaiting("a"));
        List<NoLoCoRelay.Match> odd = r.offer(state("b", 2, 8), 21);
        assertEquals(2, odd.size(), "with c gone, a and b are all the relay knows");
    }

    @Test
    void pairsMatchingShufflesDeterministicallyAndAnOddOneOutIsAnsweredOneSided() {
        List<String> one = new ArrayList<>();
        List<String> two = new ArrayList<>();
        for (List<String> out : List.of(one, two)) {
            NoLoCoRelay r = NoLoCoRelay.create(Map.of("matching", "pairs", "seed", 11), model(0));
            for (int w = 0; w < 5; w++) {
                r.offer(state("w" + w, 0, w), 0);
            }
            assertEquals(4, r.expire(r.deadline()).size(), "w0 was answered alone; w1 to w4 waited");
            for (int round = 1; round <= 20; round++) {
                List<NoLoCoRelay.Match> ms = new ArrayList<>();
                for (int w = 0; w < 5; w++) {
                    ms.addAll(r.offer(state("w" + w, round, w + round), 100 * round));
                }
                assertEquals(5, ms.size(), "all five answered once every known worker offered");
                assertEquals(4, ms.stream().filter(NoLoCoRelay.Match::mutual).count());
                NoLoCoRelay.Match oddOne = ms.stream().filter(m -> !m.mutual()).findFirst().orElseThrow();
                assertNotEquals(oddOne.worker(), oddOne.peer().worker());
                assertEquals(round, oddOne.peer().round(), "the odd one gets a state of this round");
                for (NoLoCoRelay.Match m : ms) {
                    assertNotEquals(m.worker(), m.peer().worker());
                    out.add(m.worker() + ">" + m.peer().worker());
                }
            }
        }
        assertEquals(one, two, "same seed, same offers: same matching");
        assertTrue(new java.util.HashSet<>(one).size() >= 15, "partners change from round to round: " + one);
        assertEquals("noloco.matching: must be latest or pairs, got \"random\"", assertThrows(
                IllegalArgumentException.class, () -> NoLoCoRelay.create(Map.of("matching", "random"), model(0))).getMessage());
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

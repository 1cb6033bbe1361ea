package dev.tributary.coordinator.service;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.CoordinatorConfig;
import dev.tributary.coordinator.CoordinatorMetrics;
import dev.tributary.store.Checkpoints;
import dev.tributary.store.CompactedLog;
import dev.tributary.store.DiskUsage;
import dev.tributary.store.Failpoints;
import dev.tributary.store.ModelImage;
import dev.tributary.store.StateDirectory;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A coordinator whose log is compacted behind its checkpoints recovers exactly the model and the ids of one
 * whose log keeps everything, and the log's disk use stays within its bound however long it runs.
 */
class LogCompactionTest {
    /** f32 elements of the model: 256 KiB, so that records span many disk blocks. */
    private static final int N = 65_536;
    private static final int BUFFER = 2;
    private static final int CHECKPOINT_EVERY = 2;
    private static final int KEEP = 2;
    private static final long COMPACT_BYTES = 1 << 20;

    @TempDir
    Path dir;

    final List<String> warnings = new ArrayList<>();

    @AfterEach
    void noFailpoints() {
        Failpoints.install(null);
    }

    static TensorMap tensor(long seed, float scale) {
        Random r = new Random(seed);
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = (r.nextFloat() * 2 - 1) * scale;
        }
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {256, 256}, v));
    }

    static CoordinatorConfig config(long compactBytes) {
        return new CoordinatorConfig("fedbuff", Map.of("buffer_size", BUFFER), CHECKPOINT_EVERY, KEEP,
                java.time.Duration.ofSeconds(15), 0, CoordinatorConfig.DEFAULT_MAX_DELTA_NORM, CoordinatorConfig.NormPolicy.REFUSE,
                java.time.Duration.ofMillis(200), dev.tributary.coordinator.ServiceLimits.DEFAULTS,
                dev.tributary.coordinator.WireSettings.DEFAULTS, compactBytes);
    }

    Assembly open(Path state, long compactBytes) throws IOException {
        return Assembly.open(state, tensor(1, 1f), config(compactBytes), new CoordinatorMetrics(), warnings::add);
    }

    static Sequencer.Ack push(Assembly a, int i) {
        MemorySegment img = Safetensors.encode(tensor(100 + i, 0.01f), Map.of(), Arena.ofAuto());
        return a.sequencer().submit("w", RecoveryTest.id(i), a.version(), 5 + i, 1, Map.of(), img,
                ModelImage.tensors(img, "delta"), () -> { }).join();
    }

    /** A compacting coordinator in {@code state} given updates 0 to n - 1, then closed; the SHA-256 of its model. */
    String pushAndClose(Path state, int n) throws IOException {
        Assembly a = open(state, COMPACT_BYTES);
        for (int i = 0; i < n; i++) {
            push(a, i);
        }
        String sha = a.modelSha256();
        a.close();
        return sha;
    }

    @Test
    void aCompactedLogRecoversTheSameModelAndEveryIdWithinItsDiskBound() throws Exception {
        int pushes = 60;
        Assembly reference = open(dir.resolve("reference"), 0);
        for (int i = 0; i < pushes; i++) {
            push(reference, i);
        }
        String expected = reference.modelSha256();
        reference.close();
        assertEquals(List.of(), CompactedLog.chunks(StateDirectory.log(dir.resolve("reference"))), "compact_log_bytes 0 never compacts");

        Path state = dir.resolve("state");
        Assembly a = open(state, COMPACT_BYTES);
        for (int i = 0; i < pushes - 10; i++) {
            push(a, i);
        }
        a.close(); // waits for the last checkpoint and the compaction after it
        Path log = StateDirectory.log(state);
        long compacted = CompactedLog.end(StateDirectory.log(state));
        long oldest = new Checkpoints(state, KEEP).oldestLogPosition();
        assertTrue(compacted > 0 && compacted <= oldest, "compacted up to " + compacted + ", oldest checkpoint at " + oldest);
        assertTrue(CompactedLog.chunks(StateDirectory.log(state)).size() >= 2, CompactedLog.chunks(StateDirectory.log(state)).toString());

        Assembly back = open(state, COMPACT_BYTES);
        assertEquals(pushes - 10, back.accepted());
        assertTrue(push(back, 3).duplicate(), "an id from the compacted part is still known: acknowledged, not applied");
        assertTrue(push(back, pushes - 11).duplicate());
        for (int i = pushes - 10; i < pushes; i++) {
            assertFalse(push(back, i).duplicate());
        }
        assertEquals(expected, back.modelSha256(), "the same model as the log that kept every delta");
        back.close();
        assertEquals(IntStream.range(0, pushes).mapToObj(RecoveryTest::id).toList(), StateDirectory.acceptedUpdateIds(state));
        assertFalse(warnings.stream().anyMatch(w -> w.contains("compaction")), warnings.toString());

        // The bound: what follows the oldest checkpoint (KEEP intervals and the one being filled) plus less than
        // one compaction's worth; the compacted part takes no blocks.
        long record = Files.size(log) / pushes;
        long bound = (KEEP + 1L) * CHECKPOINT_EVERY * BUFFER * record + COMPACT_BYTES;
        long uncompacted = Files.size(log) - CompactedLog.end(StateDirectory.log(state));
        assertTrue(uncompacted <= bound, uncompacted + " bytes after the compacted end, bound " + bound);
        assertTrue(Files.size(log) > 3 * bound, "the run wrote well past the bound: " + Files.size(log));
        if (DiskUsage.allocated(log) < Files.size(log)) {
            assertTrue(DiskUsage.allocated(log) <= uncompacted + 2 * 4096, DiskUsage.allocated(log) + " bytes on disk for " + uncompacted
                    + " uncompacted");
        } else {
            System.out.println("LogCompactionTest: the file system under " + dir + " cannot punch holes; blocks not checked");
        }
    }

    @Test
    void aCompactionThatFailsHalfwayIsReportedAndTheNextOneFinishesIt() throws Exception {
        Assembly reference = open(dir.resolve("reference"), 0);
        for (int i = 0; i < 40; i++) {
            push(reference, i);
        }
        String expected = reference.modelSha256();
        reference.close();

        Path state = dir.resolve("state");
        AtomicBoolean once = new AtomicBoolean();
        Failpoints.install(name -> {
            if (name.equals("compact.renamed") && once.compareAndSet(false, true)) {
                throw new IllegalStateException("disk gone at compact.renamed");
            }
        });
        Assembly a = open(state, COMPACT_BYTES);
        for (int i = 0; i < 40; i++) {
            push(a, i);
        }
        a.close();
        assertTrue(once.get(), "the failpoint was reached");
        assertTrue(warnings.stream().anyMatch(w -> w.startsWith("log compaction failed") && w.contains("compact.renamed")),
                warnings.toString());
        assertTrue(CompactedLog.chunks(StateDirectory.log(state)).size() >= 2, "later compactions went on: " + CompactedLog.chunks(StateDirectory.log(state)));
        Assembly back = open(state, COMPACT_BYTES);
        assertEquals(40, back.accepted());
        assertEquals(expected, back.modelSha256());
        back.close();
    }

    @Test
    void withNoCheckpointLeftForTheCompactedPartTheStartIsRefusedAndNothingIsTouched() throws Exception {
        Path state = dir.resolve("state");
        pushAndClose(state, 40);
        long compacted = CompactedLog.end(StateDirectory.log(state));
        assertTrue(compacted > 0);
        for (Path p : new Checkpoints(state, KEEP).list()) {
            Files.delete(p);
        }
        long size = Files.size(StateDirectory.log(state));
        Recovery.Unrecoverable e = assertThrows(Recovery.Unrecoverable.class, () -> open(state, COMPACT_BYTES));
        assertTrue(e.getMessage().contains("compacted up to offset " + compacted) && e.getMessage().contains("no valid checkpoint"),
                e.getMessage());
        assertEquals(size, Files.size(StateDirectory.log(state)));
        assertEquals(compacted, CompactedLog.end(StateDirectory.log(state)));
    }

    @Test
    void aDamagedOrMissingChunkStopsTheStartAndAfterTheSalvageTheSameModelComesBack() throws Exception {
        Path state = dir.resolve("state");
        String expected = pushAndClose(state, 40);
        Path log = StateDirectory.log(state);
        CompactedLog.Chunk first = CompactedLog.chunks(log).getFirst();
        byte[] good = Files.readAllBytes(first.file());
        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 0x10;
        Files.write(first.file(), flipped);

        dev.tributary.store.LogCorruptException e = assertThrows(dev.tributary.store.LogCorruptException.class,
                () -> open(state, COMPACT_BYTES));
        assertEquals(first.file(), e.file());
        assertTrue(e.getMessage().contains("--salvage"), e.getMessage());
        assertArrayEquals(flipped, Files.readAllBytes(first.file()), "a refused start changes nothing");

        dev.tributary.store.LogSalvage.Repair repair = dev.tributary.store.LogSalvage.salvageAll(log);
        assertEquals(1, repair.dropped().size(), repair.dropped().toString());
        String lost = repair.dropped().getFirst().updateId();
        int lostIndex = IntStream.range(0, 40).filter(i -> RecoveryTest.id(i).equals(lost)).findFirst().orElseThrow();
        Assembly back = open(state, COMPACT_BYTES);
        assertEquals(expected, back.modelSha256(), "the model comes from the checkpoint: the salvage took nothing from it");
        assertTrue(push(back, lostIndex == 0 ? 1 : 0).duplicate(), "the other compacted ids are still known");
        back.close();
        List<String> ids = new ArrayList<>(IntStream.range(0, 40).mapToObj(RecoveryTest::id).toList());
        ids.remove(lost);
        assertEquals(ids, StateDirectory.acceptedUpdateIds(state));

        Files.delete(first.file());
        assertThrows(dev.tributary.store.LogCorruptException.class, () -> open(state, COMPACT_BYTES));
        repair = dev.tributary.store.LogSalvage.salvageAll(log);
        assertEquals(1, repair.restored().size());
        Assembly again = open(state, COMPACT_BYTES);
        assertEquals(expected, again.modelSha256());
        again.close();
    }
}

package dev.tributary.worker.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class PipelinedDigestTest {
    @Test
    void equalsTheSequentialDigestOverRopesOfDirectAndHeapPiecesAndReleasesEachOnce() throws Exception {
        Random r = new Random(3);
        MessageDigest expected = MessageDigest.getInstance("SHA-256");
        PipelinedDigest d = new PipelinedDigest();
        AtomicInteger released = new AtomicInteger();
        int updates = 40;
        for (int i = 0; i < updates; i++) {
            // Empty updates, single pieces, and ropes of direct and heap pieces as the transport lends them.
            int pieces = i % 7 == 0 ? 0 : 1 + r.nextInt(5);
            List<ByteString> parts = new ArrayList<>();
            for (int k = 0; k < pieces; k++) {
                byte[] b = new byte[r.nextInt(700_000)];
                r.nextBytes(b);
                expected.update(b);
                if (k % 2 == 0) {
                    ByteBuffer direct = ByteBuffer.allocateDirect(b.length).put(b).flip();
                    parts.add(UnsafeByteOperations.unsafeWrap(direct));
                } else {
                    parts.add(UnsafeByteOperations.unsafeWrap(b));
                }
            }
            d.update(ByteString.copyFrom(parts), released::incrementAndGet);
        }
        assertArrayEquals(expected.digest(), d.digest());
        assertEquals(updates, released.get());
    }

    @Test
    void theCallerRunsAheadByAtMostTheQueueAndTheUpdateBeingDigested() throws Exception {
        ByteString piece = UnsafeByteOperations.unsafeWrap(new byte[16 << 20]); // ~13 ms of SHA-256 each
        PipelinedDigest d = new PipelinedDigest();
        AtomicInteger released = new AtomicInteger();
        int most = 0;
        for (int i = 1; i <= 24; i++) {
            d.update(piece, released::incrementAndGet);
            most = Math.max(most, i - released.get());
        }
        d.digest();
        assertEquals(24, released.get());
        assertTrue(most <= PipelinedDigest.IN_FLIGHT + 1, most + " updates held at once");
        assertTrue(most >= PipelinedDigest.IN_FLIGHT, "the caller did not run ahead of the digest: " + most);
    }

    @Test
    void closeStopsTheDigestThreadAndReleasesEveryQueuedUpdate() throws Exception {
        PipelinedDigest d = new PipelinedDigest();
        AtomicInteger released = new AtomicInteger();
        for (int i = 0; i < PipelinedDigest.IN_FLIGHT; i++) {
            d.update(UnsafeByteOperations.unsafeWrap(new byte[8 << 20]), released::incrementAndGet);
        }
        d.close();
        assertEquals(PipelinedDigest.IN_FLIGHT, released.get(), "every update released once, digested or not");
        long until = System.nanoTime() + 10_000_000_000L;
        boolean stopped = false;
        while (!stopped && System.nanoTime() < until) {
            stopped = Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().equals("pull-sha256"));
            Thread.sleep(10);
        }
        assertTrue(stopped, "pull-sha256 thread still running");
    }
}

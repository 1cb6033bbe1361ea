package dev.tributary.coordinator.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.coordinator.validation.Refusal;
import io.grpc.Status;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ReceiveBuffersTest {
    static final long MIB = 1 << 20;
    final AtomicLong clock = new AtomicLong();

    ReceiveBuffers buffers(long budget, long tokenShare, long workerShare) {
        return new ReceiveBuffers(budget, tokenShare, workerShare, budget, 1000, clock::get);
    }

    static void assertBusy(String messagePart, Runnable r) {
        Refusal e = assertThrows(Refusal.class, r::run);
        assertEquals(Status.Code.UNAVAILABLE, e.code());
        assertEquals("busy", e.reason());
        assertTrue(e.getMessage().contains(messagePart), e.getMessage());
        assertTrue(e.retryAfterMillis() > 0);
    }

    @Test
    void theBudgetFillsToItsLastByteAndRefusesTheNext() {
        ReceiveBuffers b = buffers(1000, 2000, 2000);
        ReceiveBuffers.Buffer x = b.open("t", "a", 600);
        ReceiveBuffers.Buffer y = b.open("t", "b", 400);
        x.reserve(600);
        y.reserve(400);
        assertEquals(1000, b.committed());
        ReceiveBuffers.Buffer z = b.open("t", "c", 1);
        assertBusy("1000 of 1000 bytes committed, 1 more needed", () -> z.reserve(1));
        assertEquals(1000, b.committed());
        // A released buffer waits in the pool, and is freed when an allocation needs its room.
        x.release();
        assertEquals(600, b.pooled());
        assertEquals(1000, b.committed());
        z.reserve(1);
        assertEquals(401, b.committed());
        assertEquals(0, b.pooled());
    }

    @Test
    void aBufferTakesItsWholeSizeAtItsFirstBytesNeverBefore() {
        ReceiveBuffers b = buffers(64 * MIB, 64 * MIB, 64 * MIB);
        ReceiveBuffers.Buffer x = b.open("t", "w", 5 * MIB);
        assertEquals(0, b.committed());
        assertEquals(MemorySegment.NULL, x.reserve(0));
        assertEquals(0, b.committed());
        MemorySegment m = x.reserve(100);
        m.set(ValueLayout.JAVA_BYTE, 99, (byte) 7);
        assertEquals(5 * MIB, x.capacity());
        assertEquals(5 * MIB, b.committed());
        assertEquals(7, x.reserve(5 * MIB).get(ValueLayout.JAVA_BYTE, 99));
        assertEquals(5 * MIB, x.image().byteSize());
        x.release();
        // A pooled buffer serves an update of its size, or up to a quarter smaller; not a much smaller one.
        ReceiveBuffers.Buffer small = b.open("t", "w", MIB);
        small.reserve(1);
        assertEquals(6 * MIB, b.committed());
        ReceiveBuffers.Buffer y = b.open("t", "w", 4 * MIB);
        y.reserve(1);
        assertEquals(5 * MIB, y.capacity());
        assertEquals(4 * MIB, y.image().byteSize());
        assertEquals(6 * MIB, b.committed());
    }

    @Test
    void aTokenAndAWorkerHoldAtMostTheirShares() {
        ReceiveBuffers b = buffers(4000, 1000, 600);
        ReceiveBuffers.Buffer a = b.open("t", "a", 600);
        a.reserve(600);
        assertBusy("worker a's streams would hold 601 bytes > its share 600", () -> b.open("t", "a", 1).reserve(1));
        ReceiveBuffers.Buffer c = b.open("t", "c", 400);
        c.reserve(400);
        assertBusy("this token's streams would hold 1001 bytes > its share 1000", () -> b.open("t", "d", 1).reserve(1));
        b.open("u", "d", 1).reserve(1);
        // Once handed to the strategy, an update no longer counts against its stream's shares.
        a.handOver();
        b.open("t", "e", 600).reserve(600);
        assertEquals(1601, b.committed());
    }

    @Test
    void pooledBuffersAreReusedAndFreedWhenIdle() {
        ReceiveBuffers b = buffers(10 * MIB, 10 * MIB, 10 * MIB);
        ReceiveBuffers.Buffer x = b.open("t", "w", 3 * MIB);
        x.reserve(3 * MIB);
        x.release();
        x.release();
        assertEquals(3 * MIB, b.pooled());
        ReceiveBuffers.Buffer y = b.open("t", "w", 3 * MIB);
        y.reserve(1);
        assertEquals(3 * MIB, y.capacity());
        assertEquals(0, b.pooled());
        y.release();
        clock.addAndGet(999);
        b.trim();
        assertEquals(3 * MIB, b.committed());
        clock.addAndGet(1);
        b.trim();
        assertEquals(0, b.committed());
        b.close();
    }
}

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
        x.reserve(600, 0);
        y.reserve(400, 0);
        assertEquals(1000, b.committed());
        ReceiveBuffers.Buffer z = b.open("t", "c", 1);
        assertBusy("1000 of 1000 bytes committed, 1 more needed", () -> z.reserve(1, 0));
        assertEquals(1000, b.committed());
        // A released buffer waits in the pool, and is freed when an allocation needs its room.
        x.release();
        assertEquals(600, b.pooled());
        assertEquals(1000, b.committed());
        z.reserve(1, 0);
        assertEquals(401, b.committed());
        assertEquals(0, b.pooled());
    }

    @Test
    void aBufferGrowsByDoublingAndKeepsWhatArrived() {
        ReceiveBuffers b = buffers(64 * MIB, 64 * MIB, 64 * MIB);
        ReceiveBuffers.Buffer x = b.open("t", "w", 5 * MIB);
        MemorySegment m = x.reserve(100, 0);
        assertEquals(MIB, x.capacity());
        m.set(ValueLayout.JAVA_BYTE, 99, (byte) 7);
        m = x.reserve(MIB + MIB / 2, 100);
        assertEquals(2 * MIB, x.capacity());
        assertEquals(7, m.get(ValueLayout.JAVA_BYTE, 99));
        m = x.reserve(5 * MIB, MIB + MIB / 2);
        assertEquals(5 * MIB, x.capacity());
        assertEquals(7, m.get(ValueLayout.JAVA_BYTE, 99));
        assertEquals(5 * MIB, b.committed());
        assertEquals(5 * MIB, x.image().byteSize());
    }

    @Test
    void whenDoublingDoesNotFitOnlyWhatArrivedIsReserved() {
        ReceiveBuffers b = buffers(5 * MIB / 2, 5 * MIB, 5 * MIB);
        ReceiveBuffers.Buffer x = b.open("t", "w", 3 * MIB);
        x.reserve(MIB, 0);
        x.reserve(MIB + MIB / 2, MIB);
        assertEquals(MIB + MIB / 2, x.capacity());
        assertEquals(MIB + MIB / 2, b.committed());
    }

    @Test
    void aTokenAndAWorkerHoldAtMostTheirShares() {
        ReceiveBuffers b = buffers(4000, 1000, 600);
        ReceiveBuffers.Buffer a = b.open("t", "a", 600);
        a.reserve(600, 0);
        assertBusy("worker a's streams would hold 601 bytes > its share 600", () -> b.open("t", "a", 1).reserve(1, 0));
        ReceiveBuffers.Buffer c = b.open("t", "c", 400);
        c.reserve(400, 0);
        assertBusy("this token's streams would hold 1001 bytes > its share 1000", () -> b.open("t", "d", 1).reserve(1, 0));
        b.open("u", "d", 1).reserve(1, 0);
        // Once handed to the strategy, an update no longer counts against its stream's shares.
        a.handOver();
        b.open("t", "e", 600).reserve(600, 0);
        assertEquals(1601, b.committed());
    }

    @Test
    void pooledBuffersAreReusedAndFreedWhenIdle() {
        ReceiveBuffers b = buffers(10 * MIB, 10 * MIB, 10 * MIB);
        ReceiveBuffers.Buffer x = b.open("t", "w", 3 * MIB);
        x.reserve(3 * MIB, 0);
        x.release();
        x.release();
        assertEquals(3 * MIB, b.pooled());
        ReceiveBuffers.Buffer y = b.open("t", "w", 3 * MIB);
        y.reserve(1, 0);
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

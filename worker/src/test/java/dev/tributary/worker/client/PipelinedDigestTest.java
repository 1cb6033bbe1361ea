package dev.tributary.worker.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.security.MessageDigest;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PipelinedDigestTest {
    @Test
    void equalsTheSequentialDigestWhateverTheChunkSizesAndReuseOfTheCallersArray() throws Exception {
        Random r = new Random(3);
        byte[] scratch = new byte[3 << 20];
        MessageDigest expected = MessageDigest.getInstance("SHA-256");
        PipelinedDigest d = new PipelinedDigest();
        for (int i = 0; i < 40; i++) {
            // Sizes around the pooled buffers' 1 MiB, and empty ones; the caller overwrites its array each time.
            int n = i % 7 == 0 ? 0 : r.nextInt(scratch.length);
            r.nextBytes(scratch);
            expected.update(scratch, 0, n);
            d.update(scratch, n);
        }
        assertArrayEquals(expected.digest(), d.digest());
    }

    @Test
    void closeStopsTheDigestThread() throws Exception {
        PipelinedDigest d = new PipelinedDigest();
        d.update(new byte[1000], 1000);
        d.close();
        long until = System.nanoTime() + 10_000_000_000L;
        boolean stopped = false;
        while (!stopped && System.nanoTime() < until) {
            stopped = Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().equals("pull-sha256"));
            Thread.sleep(10);
        }
        assertTrue(stopped, "pull-sha256 thread still running");
    }
}

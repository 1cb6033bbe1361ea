package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class WorkCommandTest {
    static CliRunner work(String... extra) {
        String[] base = {"work", "--coordinator", "127.0.0.1:1", "--token", "t", "--task", "synthetic-logreg"};
        String[] all = new String[base.length + extra.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return CliRunner.run(all);
    }

    static void usageError(CliRunner r, String part) {
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains(part), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        assertEquals(1, r.err().lines().filter(l -> l.contains(part)).count(), r.err());
    }

    @Test
    void anUnknownCodecOrBadParameterIsAUsageErrorNamingIt() {
        usageError(work("--codec", "zip9"), "unknown codec \"zip9\"");
        usageError(work("--codec", "int4:group=0"), "group");
        usageError(work("--codec", "topk:fractoin=0.1"), "fractoin");
        usageError(work("--codec", "lossless", "--error-feedback"), "--error-feedback needs a lossy --codec, not lossless:level=3");
        usageError(work("--error-feedback"), "--error-feedback needs a lossy --codec");
        usageError(work("--error-feedback=ef21"), "--error-feedback needs a lossy --codec");
        usageError(work("--codec", "lossless", "--error-feedback", "ef21"), "--error-feedback needs a lossy --codec, not lossless");
        usageError(work("--codec", "int8", "--error-feedback", "ef22"), "--error-feedback ef22: must be ef or ef21");
        usageError(work("--codec", "int8", "--ef-max-jump", "0"), "--ef-max-jump 0");
        usageError(work("--pull-codec", "int3"), "--pull-codec: unknown codec \"int3\"");
        usageError(work("--pull-codec", "topk:fraction=0.1"), "--pull-codec topk:fraction=0.1: top-k would zero most weights");
    }

    @Test
    void theHelpListsTheWireFlags() {
        CliRunner r = CliRunner.run("work", "--help");
        assertEquals(0, r.status(), r.err());
        for (String flag : new String[] {"--codec", "--error-feedback", "--ef-max-jump", "--no-pull-delta", "--pull-codec"}) {
            assertTrue(r.out().contains(flag), flag + " missing from\n" + r.out());
        }
    }
}

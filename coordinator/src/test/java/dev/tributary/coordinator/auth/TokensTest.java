package dev.tributary.coordinator.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokensTest {
    @TempDir
    Path dir;

    @Test
    void readsOneTokenPerLineSkippingCommentsAndBlanks() throws IOException {
        Path f = dir.resolve("tokens");
        Files.writeString(f, "# workers\nalpha-token\n\n  beta-token  \n");
        Tokens t = Tokens.read(f);
        assertEquals(2, t.size());
        assertTrue(t.accepts("alpha-token"));
        assertTrue(t.accepts("beta-token"));
        assertFalse(t.accepts("# workers"));
        assertFalse(t.accepts("alpha-toke"));
        assertFalse(t.accepts(""));
    }

    @Test
    void refusesFilesWithoutTokensAndBlankTokens() throws IOException {
        Path f = dir.resolve("empty");
        Files.writeString(f, "# nothing\n\n");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Tokens.read(f)).getMessage().contains("holds no token"));
        assertThrows(IllegalArgumentException.class, () -> Tokens.of(List.of(" padded ")));
        assertThrows(IllegalArgumentException.class, () -> Tokens.of(List.of()));
    }
}

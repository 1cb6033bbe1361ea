package dev.tributary.coordinator.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/**
 * The bearer tokens a coordinator accepts, kept only as SHA-256 hashes. A presented token is hashed and
 * compared with every known hash in constant time, so neither the comparison nor the position of a
 * match leaks through timing.
 */
public final class Tokens {
    private final List<byte[]> hashes;

    private Tokens(List<byte[]> hashes) {
        if (hashes.isEmpty()) {
            throw new IllegalArgumentException("no tokens: at least one is needed");
        }
        this.hashes = hashes;
    }

    public static Tokens of(Collection<String> tokens) {
        List<byte[]> h = new ArrayList<>();
        for (String t : tokens) {
            if (t.isBlank() || !t.strip().equals(t)) {
                throw new IllegalArgumentException("token \"" + t + "\": empty or with surrounding spaces");
            }
            h.add(sha256(t));
        }
        return new Tokens(h);
    }

    /** Reads a tokens file: one token per line; blank lines and lines starting with '#' are skipped. */
    public static Tokens read(Path file) throws IOException {
        List<String> tokens = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String t = line.strip();
            if (!t.isEmpty() && !t.startsWith("#")) {
                tokens.add(t);
            }
        }
        if (tokens.isEmpty()) {
            throw new IllegalArgumentException(file + ": holds no token (one per line)");
        }
        return of(tokens);
    }

    /** Whether {@code token} is one of ours. */
    public boolean accepts(String token) {
        return indexOf(token) >= 0;
    }

    /** The position of {@code token} among ours (the same for every call), or -1 when it is not one of them. */
    public int indexOf(String token) {
        byte[] h = sha256(token);
        int index = -1;
        for (int i = 0; i < hashes.size(); i++) {
            // Every hash is compared, whatever matched before.
            if (MessageDigest.isEqual(hashes.get(i), h)) {
                index = i;
            }
        }
        return index;
    }

    public int size() {
        return hashes.size();
    }

    private static byte[] sha256(String t) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(t.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}

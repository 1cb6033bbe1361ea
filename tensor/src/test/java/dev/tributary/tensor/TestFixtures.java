package dev.tributary.tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The reference files written by PyTorch's safetensors ({@code src/test/python/make_fixtures.py}), found
 * on the test class path under {@code fixtures/}.
 */
public final class TestFixtures {
    private TestFixtures() {}

    /** Path of a fixture file or folder, e.g. {@code "all_dtypes.safetensors"} or {@code "sharded"}. */
    public static Path path(String name) {
        URL url = TestFixtures.class.getResource("/fixtures/" + name);
        if (url == null) {
            throw new IllegalArgumentException("no fixture " + name + " on the class path");
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Json.Obj json(String name) {
        try {
            return (Json.Obj) Json.parse(Files.readString(path(name), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (Json.ParseException e) {
            throw new IllegalStateException(name + ": " + e.getMessage(), e);
        }
    }

    static Json.Obj obj(Json.Value v, String key) {
        return (Json.Obj) ((Json.Obj) v).members().get(key);
    }

    static String str(Json.Value v, String key) {
        return ((Json.Str) ((Json.Obj) v).members().get(key)).value();
    }

    static List<Json.Value> arr(Json.Value v, String key) {
        return ((Json.Arr) ((Json.Obj) v).members().get(key)).items();
    }

    /** The elements of a JSON array of integers, as longs (values up to 2^63-1). */
    static long[] longs(Json.Value v, String key) {
        List<Json.Value> items = arr(v, key);
        long[] out = new long[items.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = Long.parseLong(((Json.Num) items.get(i)).text());
        }
        return out;
    }

    static byte[] hex(String s) {
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) Integer.parseInt(s.substring(2 * i, 2 * i + 2), 16);
        }
        return b;
    }
}

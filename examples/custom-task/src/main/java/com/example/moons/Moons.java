package com.example.moons;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The user's data: a CSV file of {@code x1,x2,label} rows with a header line. The file named by the
 * environment variable {@code MOONS_CSV}, else the copy bundled with this example. The first
 * {@link #TRAIN} rows are for training, the rest for evaluation.
 */
record Moons(float[][] features, int[] labels) {
    static final int TRAIN = 1000;

    static Moons load() {
        String path = System.getenv("MOONS_CSV");
        try (InputStream in = path != null ? Files.newInputStream(Path.of(path))
                : Moons.class.getResourceAsStream("/moons.csv");
                BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            List<float[]> xs = new ArrayList<>();
            List<Integer> ys = new ArrayList<>();
            String line = r.readLine(); // header
            int n = 1;
            while ((line = r.readLine()) != null) {
                n++;
                String[] f = line.split(",");
                if (f.length != 3) {
                    throw new IllegalArgumentException((path == null ? "moons.csv" : path) + " line " + n + ": expected x1,x2,label");
                }
                xs.add(new float[] {Float.parseFloat(f[0]), Float.parseFloat(f[1])});
                ys.add(Integer.parseInt(f[2].strip()));
            }
            return new Moons(xs.toArray(float[][]::new), ys.stream().mapToInt(Integer::intValue).toArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Rows {@code [from, to)}. */
    Moons slice(int from, int to) {
        return new Moons(java.util.Arrays.copyOfRange(features, from, to), java.util.Arrays.copyOfRange(labels, from, to));
    }

    /** Worker {@code worker}'s share of the training rows: every {@code workers}-th row. */
    Moons share(int worker, int workers) {
        List<float[]> xs = new ArrayList<>();
        List<Integer> ys = new ArrayList<>();
        for (int i = worker; i < TRAIN; i += workers) {
            xs.add(features[i]);
            ys.add(labels[i]);
        }
        return new Moons(xs.toArray(float[][]::new), ys.stream().mapToInt(Integer::intValue).toArray());
    }

    int size() {
        return labels.length;
    }
}

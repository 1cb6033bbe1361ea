package dev.tributary.tensor;

import java.nio.file.Path;

/**
 * Writes {@link WriteBehindTest#model} (seed 2) to a file and halts the process, like {@code kill -9}, at
 * the N-th event of the write-behind thread ({@code chunk}: a staging buffer reached the file;
 * {@code flush}: written ranges were flushed), or finishes normally when N is 0.
 * Usage: {@code WriteBehindCrashChild TARGET direct|buffered EVENT N}.
 */
public final class WriteBehindCrashChild {
    private WriteBehindCrashChild() {}

    public static void main(String[] args) {
        Path target = Path.of(args[0]);
        boolean direct = args[1].equals("direct");
        String event = args[2];
        int n = Integer.parseInt(args[3]);
        int[] seen = {0};
        WriteBehind.hook = e -> {
            if (e.equals(event) && ++seen[0] == n) {
                System.out.println("halting at " + event + " " + n);
                System.out.flush();
                Runtime.getRuntime().halt(WriteBehindCrashTest.HALTED);
            }
        };
        WriteBehindTest.write(target, WriteBehindTest.model(2), direct, 2L * WriteBehindTest.CHUNK);
        System.out.println("written");
    }
}

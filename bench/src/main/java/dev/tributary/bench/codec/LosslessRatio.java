package dev.tributary.bench.codec;

import dev.tributary.codec.Codec;
import dev.tributary.codec.DecodeLimits;
import dev.tributary.codec.VersionDelta;
import dev.tributary.tensor.DType;
import dev.tributary.tensor.Checkpoint;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import dev.tributary.tensor.TensorSource;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Ratio and speed of the lossless paths on real checkpoints: {@code lossless} on one version, and the
 * XOR {@link VersionDelta} between two versions, at a few zstd levels; medians of several runs on one
 * thread. Usage: {@code LosslessRatio NEXT.safetensors [BASE.safetensors] [runs]}; with a base, also
 * the lossless codec on the f32 difference next - base (what a worker pushes).
 */
public final class LosslessRatio {
    private LosslessRatio() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: LosslessRatio NEXT.safetensors [BASE.safetensors] [runs]");
            System.exit(2);
        }
        int runs = args.length > 2 ? Integer.parseInt(args[2]) : 7;
        try (Arena arena = Arena.ofShared(); TensorSource nextFile = Checkpoint.open(Path.of(args[0]))) {
            TensorMap next = f32(nextFile, arena);
            long raw = 4 * next.parameters();
            System.out.printf(Locale.ROOT, "%s: %d tensors, %d parameters, %d bytes as f32%n", args[0], next.size(),
                    next.parameters(), raw);
            for (int level : new int[] {1, 3, 9}) {
                report("lossless:level=" + level + " (model)", raw, runs, () -> Codec.parse("lossless:level=" + level).encode(next),
                        b -> Codec.parse("lossless").decode(b, next.infos(), DecodeLimits.forLayout(next.infos())));
            }
            if (args.length > 1) {
                try (TensorSource baseFile = Checkpoint.open(Path.of(args[1]))) {
                    TensorMap base = f32(baseFile, arena);
                    TensorMap diff = new TensorMap();
                    for (String n : next.names()) {
                        Tensor d = next.tensor(n).copy(arena);
                        dev.tributary.tensor.Kernels.axpy(-1f, base.tensor(n).data(), d.data(), d.numel());
                        diff.put(n, d);
                    }
                    for (int level : new int[] {1, 3, 9}) {
                        report("xor delta level " + level, raw, runs, () -> VersionDelta.encode(next, base, level),
                                b -> VersionDelta.decode(b, base, DecodeLimits.of(2 * raw)));
                    }
                    report("lossless:level=3 (next - base)", raw, runs, () -> Codec.parse("lossless").encode(diff),
                            b -> Codec.parse("lossless").decode(b, diff.infos(), DecodeLimits.forLayout(diff.infos())));
                    for (String spec : List.of("int8", "int4", "bf16", "topk:fraction=0.01+int8")) {
                        report(spec + " (next - base)", raw, runs, () -> Codec.parse(spec).encode(diff),
                                b -> Codec.parse(spec).decode(b, diff.infos(), DecodeLimits.forLayout(diff.infos())));
                    }
                }
            }
        }
    }

    private static TensorMap f32(TensorSource src, Arena arena) {
        TensorMap m = new TensorMap();
        for (TensorInfo i : src.infos()) {
            Tensor t = src.tensor(i.name());
            m.put(i.name(), t.dtype() == DType.F32 ? t.copy(arena) : t.toF32(arena));
        }
        return m;
    }

    interface Encode {
        byte[] run() throws Exception;
    }

    interface Decode {
        Object run(byte[] b) throws Exception;
    }

    private static void report(String what, long raw, int runs, Encode enc, Decode dec) throws Exception {
        double[] e = new double[runs];
        double[] d = new double[runs];
        byte[] bytes = null;
        for (int i = 0; i < runs + 2; i++) {
            long t0 = System.nanoTime();
            bytes = enc.run();
            long t1 = System.nanoTime();
            dec.run(bytes);
            long t2 = System.nanoTime();
            if (i >= 2) {
                e[i - 2] = (t1 - t0) / 1e9;
                d[i - 2] = (t2 - t1) / 1e9;
            }
        }
        System.out.printf(Locale.ROOT, "%-34s %10d bytes  ratio %6.3f (%5.1f%% of f32)  encode %7.1f MB/s  decode %7.1f MB/s%n",
                what, bytes.length, (double) raw / bytes.length, 100.0 * bytes.length / raw,
                raw / median(e) / 1e6, raw / median(d) / 1e6);
    }

    private static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}

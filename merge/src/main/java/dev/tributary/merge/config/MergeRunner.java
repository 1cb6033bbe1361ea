package dev.tributary.merge.config;

import dev.tributary.merge.MergeException;
import dev.tributary.merge.MergeJob;
import dev.tributary.tensor.DType;
import dev.tributary.merge.MergeMethod;
import dev.tributary.merge.MergeMethods;
import dev.tributary.merge.ProgressListener;
import dev.tributary.tensor.Checkpoint;
import dev.tributary.tensor.CheckpointWriter;
import dev.tributary.tensor.InvalidCheckpointException;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorSource;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a {@link MergeConfig}: opens every checkpoint memory-mapped (each once, however many slices use
 * it), plans the output tensor by tensor ({@link MergePlanner}) and checks the whole merge before writing
 * anything, then merges tensor by tensor into {@code outDir} ({@code model.safetensors}, or shards and
 * {@code model.safetensors.index.json} past {@code out_shard_size}), and last the files that make the
 * folder a loadable model ({@link ModelFiles}). Anonymous memory stays at a few tensors whatever the model
 * size; the weights appear atomically when the last tensor is written.
 */
public final class MergeRunner {
    private MergeRunner() {}

    /**
     * What a merge wrote.
     *
     * @param outDir  the output folder
     * @param tensors the merged tensors, in file order
     * @param shards  number of safetensors files written
     * @param phases  where the time went
     */
    public record Result(Path outDir, List<TensorInfo> tensors, int shards, Phases phases) {
        public Result {
            tensors = List.copyOf(tensors);
        }
    }

    /**
     * Where a merge's time went, in nanoseconds.
     *
     * @param planNanos  opening the inputs, planning and checking the merge
     * @param mergeNanos reading the inputs (page faults on the mapped files) and computing the merged tensors
     * @param writeNanos handing merged tensors to the writer: the copy into its staging buffers, and any
     *                   wait for a buffer while the disk is behind (the writes themselves run beside the merge)
     * @param closeNanos finishing the output: the last buffers written, fsync of the files and the folder,
     *                   atomic rename
     */
    public record Phases(long planNanos, long mergeNanos, long writeNanos, long closeNanos) {}

    /**
     * Merges as {@code config} says and writes the result into {@code outDir}.
     *
     * @throws MergeException naming the model, tensor and key when the inputs or parameters are wrong
     * @throws UncheckedIOException when the output cannot be written
     */
    public static Result run(MergeConfig config, Path outDir, ProgressListener listener) {
        long start = System.nanoTime();
        MergeMethod method = MergeMethods.byName(config.method());
        Path dir = config.file().toAbsolutePath().getParent();
        ModelFiles.check(config);
        Map<Path, TensorSource> opened = new LinkedHashMap<>();
        try {
            MergePlanner.Plan plan = MergePlanner.plan(config, method, (path, key) ->
                    new MergePlanner.Model(path, display(dir, path), open(path, key, opened)));
            DType through = config.outDtype() != null && config.dtype() != null ? config.dtype() : null;
            MergeJob job = MergeJob.plan(method, plan.outputs(), config.writtenDtype(), through);
            CheckpointWriter writer = CheckpointWriter.create(outDir, job.outputs(), Map.of("format", "pt"),
                    config.outShardSize());
            boolean done = false;
            long[] writing = {0};
            long planned = System.nanoTime();
            long merged;
            try {
                job.run((name, t) -> {
                    long at = System.nanoTime();
                    writer.write(name, t);
                    writing[0] += System.nanoTime() - at;
                }, listener);
                merged = System.nanoTime();
                writer.close();
                done = true;
            } finally {
                if (!done) {
                    closeQuietly(writer);
                }
            }
            long closed = System.nanoTime();
            ModelFiles.write(config, plan, outDir);
            Phases phases = new Phases(planned - start, merged - planned - writing[0], writing[0], closed - merged);
            return new Result(outDir, job.outputs(), writer.shardCount(), phases);
        } finally {
            for (TensorSource s : opened.values()) {
                s.close();
            }
        }
    }

    /** Loads the config at {@code yaml} and runs it. */
    public static Result run(Path yaml, Path outDir, ProgressListener listener) {
        return run(MergeConfig.load(yaml), outDir, listener);
    }

    private static TensorSource open(Path path, String key, Map<Path, TensorSource> opened) {
        Path at = path.toAbsolutePath().normalize();
        TensorSource known = opened.get(at);
        if (known != null) {
            return known;
        }
        try {
            TensorSource s = Checkpoint.open(path);
            opened.put(at, s);
            return s;
        } catch (InvalidCheckpointException | UncheckedIOException e) {
            throw new MergeException(key + ": " + e.getMessage(), e);
        }
    }

    private static String display(Path dir, Path p) {
        try {
            return dir.relativize(p.toAbsolutePath()).toString();
        } catch (IllegalArgumentException e) {
            return p.toString();
        }
    }

    private static void closeQuietly(CheckpointWriter writer) {
        try {
            writer.close();
        } catch (RuntimeException ignored) {
            // the merge's own failure is the one to report; close() removes the temporary files
        }
    }
}

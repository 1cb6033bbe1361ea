package dev.tributary.sim;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.List;
import java.util.Objects;

/**
 * The outcome of one simulation, as {@code tributary simulate --report} writes it (JSON, snake_case keys,
 * in this order). Everything but {@code wall_seconds} is a function of the configuration and the seed.
 *
 * @param strategy       the strategy's name
 * @param clients        simulated clients
 * @param seed           the run's seed
 * @param virtualSeconds virtual time when the run stopped
 * @param wallSeconds    real time the run took
 * @param finalAccuracy  test accuracy of the last model (the curve's last point)
 * @param timeToTarget   when the curve first reached the target accuracy
 * @param updates        updates the coordinator accepted
 * @param bytesUp        delta bytes pushed on the wire, as coded (every push that arrived, refused ones included)
 * @param bytesDown      model bytes pulled on the wire (full models, version deltas, or DiLoCo fragments)
 * @param peakBytesPerSecond the most bytes pulled and pushed together within one virtual second (windows
 *                       [k, k+1); a transfer counts in the window where it completes)
 * @param peakUpBytesPerSecond the same for pushes alone
 * @param peakAfterStartBytesPerSecond the same as {@code peakBytesPerSecond} leaving out each client's first
 *                       pull: the starting model, which every method sends to every client once
 * @param staleness      staleness of accepted updates
 * @param curve          (virtual seconds, test accuracy, bytes exchanged so far) at every evaluation
 * @param compression    what the codec and delta pulls did; absent when neither is configured
 * @param replicas       NoLoCo only (absent otherwise): its workers' own models at every evaluation, whose
 *                       mean accuracy is {@code curve}'s
 */
@JsonPropertyOrder({"strategy", "clients", "seed", "virtual_seconds", "wall_seconds", "final_accuracy", "time_to_target",
        "updates", "bytes_up", "bytes_down", "peak_bytes_per_second", "peak_up_bytes_per_second",
        "peak_after_start_bytes_per_second", "compression",
        "staleness", "curve", "replicas"})
public record SimReport(
        String strategy,
        int clients,
        long seed,
        @JsonProperty("virtual_seconds") double virtualSeconds,
        @JsonProperty("wall_seconds") double wallSeconds,
        @JsonProperty("final_accuracy") double finalAccuracy,
        @JsonProperty("time_to_target") TimeToTarget timeToTarget,
        long updates,
        @JsonProperty("bytes_up") long bytesUp,
        @JsonProperty("bytes_down") long bytesDown,
        @JsonProperty("peak_bytes_per_second") long peakBytesPerSecond,
        @JsonProperty("peak_up_bytes_per_second") long peakUpBytesPerSecond,
        @JsonProperty("peak_after_start_bytes_per_second") long peakAfterStartBytesPerSecond,
        Staleness staleness,
        List<Point> curve,
        @JsonInclude(JsonInclude.Include.NON_NULL) Compression compression,
        @JsonInclude(JsonInclude.Include.NON_NULL) List<Replicas> replicas) {

    public SimReport {
        Objects.requireNonNull(strategy, "strategy");
        Objects.requireNonNull(timeToTarget, "timeToTarget");
        Objects.requireNonNull(staleness, "staleness");
        curve = List.copyOf(curve);
        replicas = replicas == null ? null : List.copyOf(replicas);
    }

    /** A report of a strategy with one global model (no {@code replicas}). */
    public SimReport(String strategy, int clients, long seed, double virtualSeconds, double wallSeconds,
            double finalAccuracy, TimeToTarget timeToTarget, long updates, long bytesUp, long bytesDown,
            long peakBytesPerSecond, long peakUpBytesPerSecond, long peakAfterStartBytesPerSecond, Staleness staleness,
            List<Point> curve, Compression compression) {
        this(strategy, clients, seed, virtualSeconds, wallSeconds, finalAccuracy, timeToTarget, updates, bytesUp,
                bytesDown, peakBytesPerSecond, peakUpBytesPerSecond, peakAfterStartBytesPerSecond, staleness, curve,
                compression, null);
    }

    /** A report without traffic figures (peak 0). */
    public SimReport(String strategy, int clients, long seed, double virtualSeconds, double wallSeconds,
            double finalAccuracy, TimeToTarget timeToTarget, long updates, long bytesUp, long bytesDown,
            Staleness staleness, List<Point> curve) {
        this(strategy, clients, seed, virtualSeconds, wallSeconds, finalAccuracy, timeToTarget, updates, bytesUp,
                bytesDown, 0, 0, 0, staleness, curve, null);
    }

    /**
     * @param target         the target accuracy; null when none was configured
     * @param virtualSeconds the first evaluation at or above it; null when it was never reached
     */
    @JsonPropertyOrder({"target", "virtual_seconds"})
    public record TimeToTarget(Double target, @JsonProperty("virtual_seconds") Double virtualSeconds) {}

    /** Staleness τ = version at arrival − base version, over accepted updates (all 0 when there are none). */
    @JsonPropertyOrder({"mean", "p50", "p99", "max"})
    public record Staleness(double mean, long p50, long p99, long max) {}

    /**
     * What compression did to the traffic.
     *
     * @param codec              the push codec's canonical spec; null for plain f32 pushes
     * @param errorFeedback      ef, ef21 or none
     * @param pulls              full or delta
     * @param decodedBytesUp     the pushes' size as the coordinator decoded them (f32 safetensors images)
     * @param compressionUp      decoded bytes up / bytes up on the wire
     * @param fullBytesDown      what the pulls would have cost as full models
     * @param compressionDown    full-model bytes down / bytes down on the wire
     * @param errorFeedbackResets clients' error-feedback states dropped because their base jumped
     * @param traffic            bytes up and down on the wire so far, at every evaluation (beside {@code curve})
     */
    @JsonPropertyOrder({"codec", "error_feedback", "pulls", "decoded_bytes_up", "compression_up", "full_bytes_down",
            "compression_down", "error_feedback_resets", "traffic"})
    public record Compression(String codec, @JsonProperty("error_feedback") String errorFeedback, String pulls,
            @JsonProperty("decoded_bytes_up") long decodedBytesUp, @JsonProperty("compression_up") double compressionUp,
            @JsonProperty("full_bytes_down") long fullBytesDown, @JsonProperty("compression_down") double compressionDown,
            @JsonProperty("error_feedback_resets") long errorFeedbackResets, List<Traffic> traffic) {
        public Compression {
            traffic = traffic == null ? List.of() : List.copyOf(traffic);
        }
    }

    /** Bytes on the wire up to an evaluation, written as {@code [virtual_seconds, bytes_up, bytes_down]}. */
    @JsonFormat(shape = JsonFormat.Shape.ARRAY)
    @JsonPropertyOrder({"virtual_seconds", "bytes_up", "bytes_down"})
    public record Traffic(@JsonProperty("virtual_seconds") double virtualSeconds, @JsonProperty("bytes_up") long bytesUp,
            @JsonProperty("bytes_down") long bytesDown) {}

    /**
     * One evaluation, written as {@code [virtual_seconds, accuracy, bytes]}: bytes pulled and pushed up to
     * that time.
     */
    @JsonFormat(shape = JsonFormat.Shape.ARRAY)
    @JsonPropertyOrder({"virtual_seconds", "accuracy", "bytes"})
    public record Point(@JsonProperty("virtual_seconds") double virtualSeconds, double accuracy, long bytes) {
        /** An evaluation without a byte count (0). */
        public Point(double virtualSeconds, double accuracy) {
            this(virtualSeconds, accuracy, 0);
        }
    }

    /**
     * NoLoCo's workers at one evaluation, written as {@code [virtual_seconds, mean, min, max, averaged]}:
     * the mean, worst and best test accuracy of the workers' own current models, and the accuracy of
     * their element-wise mean.
     */
    @JsonFormat(shape = JsonFormat.Shape.ARRAY)
    @JsonPropertyOrder({"virtual_seconds", "mean", "min", "max", "averaged"})
    public record Replicas(@JsonProperty("virtual_seconds") double virtualSeconds, double mean, double min, double max,
            double averaged) {}

    /** The same report with another wall time (to compare runs, whose wall times always differ). */
    public SimReport withWallSeconds(double s) {
        return new SimReport(strategy, clients, seed, virtualSeconds, s, finalAccuracy, timeToTarget, updates, bytesUp,
                bytesDown, peakBytesPerSecond, peakUpBytesPerSecond, peakAfterStartBytesPerSecond, staleness, curve,
                compression, replicas);
    }
}

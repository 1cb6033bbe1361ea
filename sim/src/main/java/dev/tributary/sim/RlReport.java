package dev.tributary.sim;

import com.fasterxml.jackson.annotation.JsonFormat;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The outcome of one actor-learner simulation, as {@code tributary simulate --report} writes it (JSON,
 * snake_case keys, in this order, through the same writer as federated reports). Everything but
 * {@code wall_seconds} is a function of the configuration and the seed.
 *
 * @param workload       always {@code rl}
 * @param env            the environment's id
 * @param mode           {@code async} or {@code sync}
 * @param algo           the learner's algorithm
 * @param actors         simulated actors
 * @param seed           the run's seed
 * @param virtualSeconds virtual time when the run stopped
 * @param wallSeconds    real time the run took
 * @param envSteps       environment steps in the experience that reached the learner
 * @param finalReturn    mean return of the last 100 episodes at the end; null when none ended
 * @param timeToTarget   when that mean (over a full window of 100 episodes) first reached the target
 * @param versions       policy versions the learner published
 * @param items          experience items the learner accepted
 * @param refused        refused items by the learner's reason code
 * @param dropped        accepted items dropped before training, for lagging beyond max_lag by then
 * @param bytesUp        experience bytes pushed (every item that arrived, refused ones included)
 * @param bytesDown      policy bytes pulled
 * @param staleness      staleness of trained items: the version trained under − the oldest step's behaviour version
 * @param stalenessCounts trained items by staleness 0, 1, 2, …
 * @param itemsByActor   items each actor pushed that the learner trained on
 * @param actorSpeeds    each actor's speed, environment steps per virtual second
 * @param curve          (virtual seconds, env steps, mean return, version) after every training step
 */
@JsonPropertyOrder({"workload", "env", "mode", "algo", "actors", "seed", "virtual_seconds", "wall_seconds", "env_steps",
        "final_return", "time_to_target", "versions", "items", "refused", "dropped", "bytes_up", "bytes_down",
        "staleness", "staleness_counts", "items_by_actor", "actor_speeds", "curve"})
public record RlReport(
        String workload,
        String env,
        String mode,
        String algo,
        int actors,
        long seed,
        @JsonProperty("virtual_seconds") double virtualSeconds,
        @JsonProperty("wall_seconds") double wallSeconds,
        @JsonProperty("env_steps") long envSteps,
        @JsonProperty("final_return") Double finalReturn,
        @JsonProperty("time_to_target") TimeToTarget timeToTarget,
        long versions,
        long items,
        Map<String, Long> refused,
        long dropped,
        @JsonProperty("bytes_up") long bytesUp,
        @JsonProperty("bytes_down") long bytesDown,
        SimReport.Staleness staleness,
        @JsonProperty("staleness_counts") List<Long> stalenessCounts,
        @JsonProperty("items_by_actor") List<Long> itemsByActor,
        @JsonProperty("actor_speeds") List<Double> actorSpeeds,
        List<Point> curve) {

    /** The value of {@code workload} in every actor-learner report. */
    public static final String WORKLOAD = "rl";

    public RlReport {
        Objects.requireNonNull(timeToTarget, "timeToTarget");
        Objects.requireNonNull(staleness, "staleness");
        refused = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(refused));
        stalenessCounts = List.copyOf(stalenessCounts);
        itemsByActor = List.copyOf(itemsByActor);
        actorSpeeds = List.copyOf(actorSpeeds);
        curve = List.copyOf(curve);
    }

    /**
     * @param target         the target mean return; null when none was configured
     * @param virtualSeconds when it was first reached; null when it never was
     * @param envSteps       environment steps at that moment; null when it was never reached
     */
    @JsonPropertyOrder({"target", "virtual_seconds", "env_steps"})
    public record TimeToTarget(Double target, @JsonProperty("virtual_seconds") Double virtualSeconds,
            @JsonProperty("env_steps") Long envSteps) {}

    /** One training step, written as {@code [virtual_seconds, env_steps, mean_return, version]}. */
    @JsonFormat(shape = JsonFormat.Shape.ARRAY)
    @JsonPropertyOrder({"virtual_seconds", "env_steps", "mean_return", "version"})
    public record Point(@JsonProperty("virtual_seconds") double virtualSeconds, @JsonProperty("env_steps") long envSteps,
            @JsonProperty("mean_return") Double meanReturn, long version) {}

    /** The same report with another wall time (to compare runs, whose wall times always differ). */
    public RlReport withWallSeconds(double s) {
        return new RlReport(workload, env, mode, algo, actors, seed, virtualSeconds, s, envSteps, finalReturn,
                timeToTarget, versions, items, refused, dropped, bytesUp, bytesDown, staleness, stalenessCounts,
                itemsByActor, actorSpeeds, curve);
    }
}

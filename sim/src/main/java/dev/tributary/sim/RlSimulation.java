package dev.tributary.sim;

import dev.tributary.rl.actor.ItemBuilder;
import dev.tributary.rl.env.ClassicControl;
import dev.tributary.rl.env.Environment;
import dev.tributary.rl.env.Space;
import dev.tributary.rl.env.VectorEnvironment;
import dev.tributary.rl.experience.Experience;
import dev.tributary.rl.experience.ExperienceFormat;
import dev.tributary.rl.learner.EmbeddedLearner;
import dev.tributary.rl.policy.ActorCritic;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.TreeMap;

/**
 * Actors and a learner in one process on a virtual clock: the acting and the training are real (the
 * actor's {@link ItemBuilder}, the learner's validation, buffer and training step through
 * {@link EmbeddedLearner}), the time is simulated. An actor takes the newest published policy when it
 * starts an item (a pull, when the version changed), acts for T steps at once, and its push arrives
 * {@code pull + T·E / speed + push} virtual seconds later; every step records the version it acted with.
 * Training takes no virtual time.
 *
 * <p>{@code async}: an actor starts its next item as soon as it pushed one, and the learner trains
 * whenever {@code batch_items} items wait (oldest first), so fast actors contribute more and experience
 * can be a few versions old (corrected by the learner's truncated importance weights or V-trace; items
 * beyond {@code max_lag} are refused or dropped). {@code sync}: every actor acts with the same version;
 * the learner waits for one item of each, trains on them together, and only then do the actors go on.
 *
 * <p>Deterministic for a configuration and a seed: events run on the calling thread in virtual-time
 * order (ties in the order they were scheduled), and every draw comes from seeds derived from the run's.
 */
public final class RlSimulation {
    /** Seed purposes, apart from the federated simulation's. */
    private static final long ACTOR_POLICY = 101;
    private static final long ACTOR_ENVS = 102;
    private static final long ITEM_ID = 103;

    /** Receives the run's progress after every push. */
    @FunctionalInterface
    public interface Listener {
        void progress(Progress p);
    }

    /**
     * Where a run stands.
     *
     * @param virtualSeconds the virtual clock
     * @param envSteps       environment steps that reached the learner
     * @param version        the published policy version
     * @param meanReturn     mean return of the last 100 episodes (NaN before the first)
     */
    public record Progress(double virtualSeconds, long envSteps, long version, double meanReturn) {}

    /** An item the learner trained on: who acted it and the oldest version it was acted with. */
    public record TrainedItem(int actor, long behaviourVersion) {}

    /** One training step: the version it trained under and its items, in buffer order. */
    public record Batch(long version, List<TrainedItem> items) {
        public Batch {
            items = List.copyOf(items);
        }
    }

    /** A finished run: the report, and every batch the learner trained on. */
    public record Result(RlReport report, List<Batch> batches) {
        public Result {
            batches = List.copyOf(batches);
        }
    }

    private record Arrival(int actor, String id, Experience item, MemorySegment payload) {}

    private record Scheduled(double time, long seq, Arrival arrival) {}

    /** One simulated actor: its environments, its copy of the policy and the version that copy holds. */
    private static final class SimActor implements AutoCloseable {
        final String name;
        final double speed;
        final ActorCritic policy;
        final VectorEnvironment envs;
        final ItemBuilder builder;
        long version = -1;
        long items;

        SimActor(String name, double speed, ActorCritic policy, VectorEnvironment envs, int steps) {
            this.name = name;
            this.speed = speed;
            this.policy = policy;
            this.envs = envs;
            this.builder = new ItemBuilder(envs, steps);
        }

        @Override
        public void close() {
            policy.close();
            envs.close();
        }
    }

    private final RlSimConfig config;
    private final Listener listener;
    private final PriorityQueue<Scheduled> queue = new PriorityQueue<>(
            Comparator.comparingDouble(Scheduled::time).thenComparingLong(Scheduled::seq));
    private final List<SimActor> actors = new ArrayList<>();
    private final Map<String, TrainedItem> waiting = new HashMap<>();
    private final Map<String, Long> refused = new TreeMap<>();
    private final List<Batch> batches = new ArrayList<>();
    private final List<RlReport.Point> curve = new ArrayList<>();
    private final StalenessCounter staleness = new StalenessCounter();
    private long[] stalenessCounts = new long[8];
    private long[] trainedByActor;
    private EmbeddedLearner learner;
    private Space actionSpace;
    private long seq;
    private long rounds;
    private long envSteps;
    private long bytesUp;
    private long bytesDown;
    private int arrivedThisRound;
    private Double reachedAt;
    private Long reachedSteps;

    private RlSimulation(RlSimConfig config, Listener listener) {
        this.config = config;
        this.listener = listener == null ? p -> { } : listener;
    }

    /** Runs {@code config} to its budget on the calling thread. */
    public static Result run(RlSimConfig config, Listener listener) {
        return new RlSimulation(config, listener).execute();
    }

    private Result execute() {
        long wall0 = System.nanoTime();
        Environment probe = ClassicControl.make(config.env());
        Space observations = probe.observationSpace();
        actionSpace = probe.actionSpace();
        probe.close();
        double[] speeds = ClientSpeeds.draw(config.speeds(), config.actors(), config.seed());
        trainedByActor = new long[config.actors()];
        try (EmbeddedLearner l = EmbeddedLearner.create(config.env(), observations, actionSpace, config.learner())) {
            learner = l;
            try {
                for (int i = 0; i < config.actors(); i++) {
                    actors.add(openActor(i, speeds[i], observations));
                }
                double end = loop();
                point(end);
                return new Result(report(end, speeds, (System.nanoTime() - wall0) / 1e9), batches);
            } finally {
                actors.forEach(SimActor::close);
            }
        }
    }

    private SimActor openActor(int i, double speed, Space observations) {
        List<Environment> copies = new ArrayList<>();
        for (int k = 0; k < config.envsPerActor(); k++) {
            copies.add(ClassicControl.make(config.env()));
        }
        VectorEnvironment envs = new VectorEnvironment(copies, Seeds.mix(config.seed(), ACTOR_ENVS, i));
        ActorCritic policy = ActorCritic.create(observations, actionSpace, Seeds.mix(config.seed(), ACTOR_POLICY, i),
                config.learner().optimization().hidden());
        return new SimActor("actor-" + i, speed, policy, envs, config.learner().stepsPerItem());
    }

    /** Runs events until the budget is spent; returns the virtual time the run ends at. */
    private double loop() {
        point(0);
        for (int i = 0; i < actors.size(); i++) {
            start(i, 0);
        }
        double limit = config.virtualSeconds() > 0 ? config.virtualSeconds() : Double.POSITIVE_INFINITY;
        double now = 0;
        while (!queue.isEmpty() && queue.peek().time() <= limit) {
            Scheduled s = queue.poll();
            now = s.time();
            arrive(s.arrival(), now);
            listener.progress(new Progress(now, envSteps, learner.version(), learner.meanReturn()));
            if (spent()) {
                return now;
            }
        }
        return Double.isFinite(limit) ? limit : now;
    }

    private boolean spent() {
        return (config.envStepsBudget() > 0 && envSteps >= config.envStepsBudget())
                || (config.stopAtTarget() && reachedAt != null);
    }

    /** Actor {@code i} takes the newest policy (pulling it when it changed), acts one item and pushes it. */
    private void start(int i, double now) {
        SimActor a = actors.get(i);
        SimConfig.Network net = config.network();
        double seconds;
        long v = learner.version();
        if (a.version != v) {
            a.policy.setWeights(learner.policyWeights());
            a.version = v;
            bytesDown += learner.policyBytes();
            seconds = net.seconds(learner.policyBytes());
        } else {
            seconds = net.seconds(0); // asking whether a newer version exists
        }
        Experience x = null;
        while (x == null) {
            x = a.builder.step(a.policy, a.version);
        }
        MemorySegment payload = ExperienceFormat.toBytes(x, actionSpace, Arena.ofAuto());
        seconds += x.size() / a.speed + net.seconds(payload.byteSize());
        String id = Seeds.uuid(config.seed(), ITEM_ID, i, rounds++).toString();
        queue.add(new Scheduled(now + seconds, seq++, new Arrival(i, id, x, payload)));
    }

    private void arrive(Arrival a, double now) {
        Experience x = a.item();
        envSteps += x.size();
        bytesUp += a.payload().byteSize();
        switch (learner.offer(a.id(), actors.get(a.actor()).name, a.payload(), x)) {
            case EmbeddedLearner.Accepted acc -> waiting.put(a.id(), new TrainedItem(a.actor(), x.minPolicyVersion()));
            case EmbeddedLearner.Refused r -> refused.merge(r.reason(), 1L, Long::sum);
        }
        if (reachedAt == null && !Double.isNaN(config.target()) && learner.returnWindow() >= 100
                && learner.meanReturn() >= config.target()) {
            reachedAt = now;
            reachedSteps = envSteps;
        }
        if (!config.sync()) {
            while (train(now)) {
                // every full batch waiting: the learner takes no virtual time
            }
            start(a.actor(), now);
            return;
        }
        if (++arrivedThisRound < actors.size()) {
            return; // waits for the others, holding its version
        }
        arrivedThisRound = 0;
        if (!train(now)) {
            throw new IllegalStateException(config.source() + ": sync round at version " + learner.version()
                    + " did not train: " + refused + " refused");
        }
        for (int i = 0; i < actors.size(); i++) {
            start(i, now);
        }
    }

    /** One training step if a batch is there; records what it trained on. */
    private boolean train(double now) {
        long before = learner.version();
        Optional<EmbeddedLearner.Step> step = learner.train();
        if (step.isEmpty()) {
            return false;
        }
        step.get().dropped().forEach(waiting::remove);
        List<TrainedItem> items = new ArrayList<>();
        for (String id : step.get().trained()) {
            TrainedItem t = waiting.remove(id);
            items.add(t);
            long tau = before - t.behaviourVersion();
            staleness.add(tau);
            if (tau >= stalenessCounts.length) {
                stalenessCounts = Arrays.copyOf(stalenessCounts, (int) tau + 1);
            }
            stalenessCounts[(int) tau]++;
            trainedByActor[t.actor()]++;
        }
        batches.add(new Batch(before, items));
        point(now);
        return true;
    }

    private void point(double now) {
        double m = learner.meanReturn();
        curve.add(new RlReport.Point(now, envSteps, Double.isNaN(m) ? null : m, learner.version()));
    }

    private RlReport report(double end, double[] speeds, double wall) {
        int last = stalenessCounts.length;
        while (last > 1 && stalenessCounts[last - 1] == 0) {
            last--;
        }
        List<Long> counts = Arrays.stream(stalenessCounts, 0, last).boxed().toList();
        double m = learner.meanReturn();
        Double target = Double.isNaN(config.target()) ? null : config.target();
        return new RlReport(RlReport.WORKLOAD, config.env(), config.mode(), config.learner().algo(), config.actors(),
                config.seed(), end, wall, envSteps, Double.isNaN(m) ? null : m,
                new RlReport.TimeToTarget(target, reachedAt, reachedSteps), learner.version(),
                staleness.total() + waiting.size() + learner.droppedItems(), refused, learner.droppedItems(), bytesUp,
                bytesDown, staleness.summary(), counts, Arrays.stream(trainedByActor).boxed().toList(),
                Arrays.stream(speeds).boxed().toList(), curve);
    }
}

package dev.tributary.sim;

import dev.tributary.store.SafetensorsBytes;
import dev.tributary.coordinator.strategy.Published;
import dev.tributary.coordinator.strategy.Strategies;
import dev.tributary.coordinator.strategy.Strategy;
import dev.tributary.coordinator.validation.UpdateValidator;
import dev.tributary.tensor.Fragments;
import dev.tributary.tensor.TensorMap;
import dev.tributary.coordinator.service.InnerLoops;
import dev.tributary.worker.TrainResult;
import dev.tributary.worker.diloco.DiLoCoLoop;
import dev.tributary.worker.diloco.DiLoCoPlan;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Many clients in one process on a virtual clock: the training is real, the time is simulated. A
 * discrete-event loop takes events in virtual-time order, ties in the order they were scheduled except
 * that an evaluation comes after everything else at its time. A client pulls the current version,
 * trains on its share (for real, at once), and its push arrives {@code download + examples / speed +
 * upload} virtual seconds later, where it goes through the coordinator's own validator and strategy
 * ({@link Admission}). Clients of round strategies (fedavg, diloco) then wait for the next version, as
 * the coordinator tells its workers to; the others pull again at once. With churn, a client that goes
 * offline loses the update it is working on.
 *
 * <p>With {@code participation: {concurrency: C}} at most C clients work at once, as in FedBuff: each
 * free slot goes to an idle online client drawn uniformly (seeded); under round strategies a client holds
 * its slot until the round it pushed to closes, and a round expects C updates.
 *
 * <p>Under DiLoCo every client runs the worker's own inner loop ({@link DiLoCoLoop}, the plan handed over
 * as registration hands it to real workers): a replica and inner optimizer kept across rounds, the
 * round's share of H steps, the fragment's push, the overlap steps after it (the client merges the next
 * version only once they are done), and the merge with α. A client that takes in the version right after
 * its push pulls only the fragment it pushed (the only values that version changed; a fragment pull),
 * any other version as a whole model.
 *
 * <p>With {@code codec:} a client's delta (or DiLoCo fragment) goes through its own codec and error
 * feedback and the coordinator's decoding before the validator ({@link ClientCodecs}); transfers take
 * the time of the bytes on the wire, pushes as coded and pulls as full models or version deltas.
 *
 * <p>Under NoLoCo ({@link NoLoCoClients}) every client runs the worker's NoLoCo loop and exchanges its
 * outer state with a peer through the coordinator's relay. There is no global model: the curve is the
 * mean accuracy of the workers' own current outer weights, as the NoLoCo paper evaluates, and the report's
 * {@code replicas} adds the worst, the best and the accuracy of their element-wise mean.
 *
 * <p>Events run on the calling thread in order. With {@code threads} above 1, an update whose length in
 * examples is known before it trains (Fashion-MNIST tasks outside DiLoCo) trains on a pool thread from
 * the immutable published model, on its client's own trainer, while the clock moves on; its arrival
 * waits for it. So the same configuration and seed give the same report whatever the thread count,
 * {@code wall_seconds} aside (on one machine with one PyTorch thread setting: float sums
 * in native kernels depend on the thread count). Memory holds one delta per client in flight, not a
 * model per client.
 */
public final class Simulation {
    /** Strategies whose workers wait for a new version after each push, as the coordinator tells them. */
    static final Set<String> ROUND_BASED = Set.of("fedavg", "diloco");

    /** Receives the run's progress after every evaluation and every push. */
    @FunctionalInterface
    public interface Listener {
        void progress(Progress p);
    }

    /**
     * Where a run stands.
     *
     * @param virtualSeconds the virtual clock
     * @param budgetSeconds  the virtual time the run stops at
     * @param version        the global model's version
     * @param accuracy       the accuracy at the latest evaluation
     * @param updates        updates accepted so far
     */
    public record Progress(double virtualSeconds, double budgetSeconds, long version, double accuracy, long updates) {}

    /**
     * A finished run: the report, and counts that explain it.
     *
     * @param report  the report
     * @param version the final model version
     * @param pushed  pushes that arrived (accepted or refused)
     * @param lost    updates lost because their client went offline
     * @param refused refused pushes by the coordinator's reason code
     * @param peakTraining the most clients training at once
     */
    public record Result(SimReport report, long version, long pushed, long lost, Map<String, Long> refused,
            int peakTraining) {
        public Result {
            refused = Map.copyOf(refused);
        }
    }

    private sealed interface Event permits Arrival, Evaluate, Tick, Toggle, Resume, MatchDeadline {}

    /** A push reaching the coordinator; ignored when its client's generation moved on (it went offline). */
    private record Arrival(int client, long generation, Flight flight) implements Event {}

    private record Evaluate(long index) implements Event {}

    private record Tick(long index) implements Event {}

    /** A client going offline or coming back. */
    private record Toggle(int client) implements Event {}

    /** A DiLoCo client done with its overlap steps. */
    private record Resume(int client) implements Event {}

    /** NoLoCo with {@code matching: pairs}: the oldest waiting offer's wait may have run out. */
    private record MatchDeadline() implements Event {}

    /** Ties in time go to pushes, ticks and churn before evaluations, then to the order of scheduling. */
    private record Scheduled(double time, int rank, long seq, Event event) {}

    /** An update on its way: everything the push carries, trained on a pool thread when {@code done} is pending. */
    private record Flight(String id, long base, long examples, long wireBytes, CompletableFuture<Trained> done) {}

    /**
     * A trained update: the result without its delta, and the delta as the coordinator validates it
     * ({@code image}) after {@code wireBytes} on the wire; or, trained on the pool with a codec, the delta
     * still to be coded ({@code pending}, image null), coded at its arrival in event order.
     */
    private record Trained(TrainResult result, MemorySegment image, long wireBytes, TensorMap pending) {
        static Trained of(TrainResult r) {
            MemorySegment image = SafetensorsBytes.encode(r.delta(), Map.of(), Arena.ofAuto());
            return new Trained(withoutDelta(r), image, image.byteSize(), null);
        }

        static Trained coded(TrainResult r, ClientCodecs.Coded coded) {
            return new Trained(withoutDelta(r), coded.image(), coded.wireBytes(), null);
        }

        /** Keeps a copy of the delta, to be coded on the event thread. */
        static Trained pending(TrainResult r) {
            TensorMap copy = new TensorMap();
            Arena arena = Arena.ofAuto();
            r.delta().asMap().forEach((name, t) -> copy.put(name, t.copy(arena)));
            return new Trained(withoutDelta(r), null, -1, copy);
        }

        private static TrainResult withoutDelta(TrainResult r) {
            return new TrainResult(new TensorMap(), r.examples(), r.steps(), r.metrics());
        }
    }

    private final SimConfig config;
    private final Listener listener;
    private final PriorityQueue<Scheduled> queue = new PriorityQueue<>(
            Comparator.comparingDouble(Scheduled::time).thenComparingInt(Scheduled::rank)
                    .thenComparingLong(Scheduled::seq));
    private long seq;

    private Workload workload;
    private Strategy strategy;
    private Admission admission;
    private long modelBytes;
    private boolean waitForNewVersion;

    private double[] speed;
    private boolean[] online;
    private boolean[] inFlight;
    private long[] generation;
    private long[] lastPushedBase;
    private long[] rounds;
    private SplittableRandom[] churnRandom;
    private final BitSet waiting = new BitSet();
    private boolean[] active;
    private ExecutorService pool;
    private final java.util.Set<CompletableFuture<Trained>> running = new java.util.HashSet<>();
    private int activeCount;
    private SplittableRandom sampler;
    private ClientCodecs codecs;
    private DiLoCoPlan innerPlan;
    private DiLoCoLoop[] loops;
    private long[] fragmentBytes;
    private double[] busyUntil;
    private NoLoCoClients noloco;
    /** The earliest {@link MatchDeadline} scheduled and not yet run (infinity: none). */
    private double matchDeadline = Double.POSITIVE_INFINITY;

    private final List<SimReport.Point> curve = new ArrayList<>();
    private final List<SimReport.Replicas> replicaCurve = new ArrayList<>();
    private NoLoCoClients.Scores replicaScores;
    private final StalenessCounter staleness = new StalenessCounter();
    private final Map<String, Long> refused = new TreeMap<>();
    private long evaluatedVersion = -1;
    private double accuracy = Double.NaN;
    private Double reachedAt;
    private long pushed;
    private long lost;
    private long bytesUp;
    private long decodedBytesUp;
    private long bytesDown;
    private final Traffic traffic = new Traffic();
    private final Traffic trafficUp = new Traffic();
    /** All transfers but each client's first pull (the starting model, which every method sends once). */
    private final Traffic trafficAfterStart = new Traffic();
    private final java.util.BitSet startedPulls = new java.util.BitSet();
    private int training;
    private int peakTraining;

    private Simulation(SimConfig config, Listener listener) {
        this.config = config;
        this.listener = listener == null ? p -> { } : listener;
    }

    /**
     * Runs {@code config} to its budget on the calling thread.
     *
     * @param listener told of progress; may be null
     * @throws IllegalArgumentException naming the configuration file and key for settings that do not work
     */
    public static Result run(SimConfig config, Listener listener) {
        return run(config, Workload.of(config), listener);
    }

    /** Runs {@code config} over {@code workload}, which it closes. */
    static Result run(SimConfig config, Workload workload, Listener listener) {
        return new Simulation(config, listener).execute(workload);
    }

    private Result execute(Workload opened) {
        long wall0 = System.nanoTime();
        try (Workload w = opened) {
            workload = w;
            TensorMap initial = w.initialModel();
            if (config.strategy().equals("noloco")) {
                noloco = createRelay(initial);
                strategy = noloco.view();
            } else {
                strategy = createStrategy(initial);
            }
            SimConfig.Validation v = config.validation();
            admission = new Admission(new UpdateValidator(initial.infos(), v.maxUpdateBytes(), v.maxDeltaNorm(),
                    v.normPolicy(), strategy.innerLoop() == null ? List.of() : strategy.innerLoop().layouts(initial.infos())),
                    strategy);
            modelBytes = SafetensorsBytes.encodedSize(initial, Map.of());
            waitForNewVersion = ROUND_BASED.contains(strategy.name());
            codecs = new ClientCodecs(config.codecs(), config.clients(), initial);
            initClients();
            double end;
            // Training ahead on the pool needs the push's size before training: fixed unless the codec is lossless.
            pool = config.threads() > 1 && workload.examplesPerUpdate(0) >= 0 && codecs.fixedWireSize() >= 0
                    ? Executors.newFixedThreadPool(config.threads(), r -> Thread.ofPlatform().daemon().name("sim-train").unstarted(r))
                    : null;
            try {
                end = loop();
                running.forEach(CompletableFuture::join);
            } finally {
                if (pool != null) {
                    pool.shutdown();
                    awaitPool();
                }
                closeLoops();
                codecs.close();
                if (noloco != null) {
                    noloco.close();
                }
            }
            if (curve.getLast().virtualSeconds() < end || evaluatedVersion != strategy.version()) {
                evaluate(end);
            }
            double wall = (System.nanoTime() - wall0) / 1e9;
            Double target = Double.isNaN(config.target()) ? null : config.target();
            SimReport report = new SimReport(strategy.name(), config.clients(), config.seed(), end, wall,
                    curve.getLast().accuracy(), new SimReport.TimeToTarget(target, reachedAt), staleness.total(),
                    bytesUp, bytesDown, traffic.peakPerSecond(), trafficUp.peakPerSecond(), trafficAfterStart.peakPerSecond(),
                    staleness.summary(), curve, codecs.summary(bytesUp, decodedBytesUp, bytesDown),
                    noloco == null ? null : replicaCurve);
            return new Result(report, strategy.version(), pushed, lost, refused, peakTraining);
        }
    }

    private Strategy createStrategy(TensorMap initial) {
        Map<String, Object> settings = new LinkedHashMap<>(config.strategyConfig());
        if (ROUND_BASED.contains(config.strategy())) {
            // Full participation unless the configuration says otherwise: a round waits for every client.
            settings.putIfAbsent("workers", config.limited() ? config.concurrency() : config.clients());
        }
        try {
            return Strategies.create(config.strategy(), settings, initial);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(config.source() + ": strategy: " + e.getMessage(), e);
        }
    }

    private NoLoCoClients createRelay(TensorMap initial) {
        if (config.limited()) {
            throw new IllegalArgumentException(config.source() + ": participation: noloco runs every client; "
                    + "a concurrency limit applies to the other strategies");
        }
        Map<String, Object> settings = new LinkedHashMap<>(config.strategyConfig());
        settings.putIfAbsent("seed", Seeds.mix(config.seed(), Seeds.RELAY));
        try {
            return new NoLoCoClients(dev.tributary.coordinator.strategy.NoLoCoRelay.create(settings, initial),
                    config.clients());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(config.source() + ": strategy: " + e.getMessage(), e);
        }
    }

    private void initClients() {
        int n = config.clients();
        speed = ClientSpeeds.draw(config.speeds(), n, config.seed());
        online = new boolean[n];
        inFlight = new boolean[n];
        generation = new long[n];
        lastPushedBase = new long[n];
        rounds = new long[n];
        active = new boolean[n];
        Arrays.fill(online, true);
        Arrays.fill(lastPushedBase, -1);
        sampler = new SplittableRandom(Seeds.mix(config.seed(), Seeds.SAMPLE));
        if (noloco != null) {
            busyUntil = new double[n];
        }
        if (strategy.innerLoop() != null) {
            innerPlan = DiLoCoPlan.of(InnerLoops.toProto(strategy.innerLoop()));
            loops = new DiLoCoLoop[n];
            busyUntil = new double[n];
        }
        if (config.churn() != null) {
            churnRandom = new SplittableRandom[n];
            for (int i = 0; i < n; i++) {
                churnRandom[i] = new SplittableRandom(Seeds.mix(config.seed(), Seeds.CHURN, i));
                schedule(exponential(churnRandom[i], config.churn().meanOnlineSeconds()), new Toggle(i));
            }
        }
    }

    /** Runs events up to the budget; returns the virtual time the run ends at. */
    private double loop() {
        double budget = config.budget().virtualSeconds();
        evaluate(0);
        if (config.limited()) {
            fill(0);
        } else {
            for (int i = 0; i < config.clients(); i++) {
                start(i, 0);
            }
        }
        schedule(config.evalEvery(), new Evaluate(1));
        schedule(config.tickEvery(), new Tick(1));
        while (!queue.isEmpty() && queue.peek().time() <= budget) {
            Scheduled s = queue.poll();
            double now = s.time();
            switch (s.event()) {
                case Arrival a -> arrive(a, now);
                case Evaluate e -> {
                    evaluate(now);
                    schedule((e.index() + 1) * config.evalEvery(), new Evaluate(e.index() + 1));
                }
                case Tick t -> {
                    if (strategy.onTick(Math.round(now * 1000)) instanceof Published) {
                        wakeWaiting(now);
                    }
                    schedule((t.index() + 1) * config.tickEvery(), new Tick(t.index() + 1));
                }
                case Toggle t -> toggle(t.client(), now);
                case Resume r -> start(r.client(), now);
                case MatchDeadline d -> {
                    matchDeadline = Double.POSITIVE_INFINITY;
                    answered(noloco.expire(now), now);
                }
            }
            if (budgetSpent()) {
                return now;
            }
        }
        return budget;
    }

    private boolean budgetSpent() {
        SimConfig.Budget b = config.budget();
        return (b.updates() > 0 && staleness.total() >= b.updates())
                || (b.versions() > 0 && strategy.version() >= b.versions());
    }

    /** Client {@code c} pulls the current version and trains, unless it is offline, busy, or must wait. */
    private void start(int c, double now) {
        if (!online[c] || inFlight[c] || (noloco != null && noloco.waiting(c))) {
            return;
        }
        long base = strategy.version();
        if (waitForNewVersion && lastPushedBase[c] >= base) {
            waiting.set(c);
            return;
        }
        if (busyUntil != null && busyUntil[c] > now) {
            schedule(busyUntil[c], new Resume(c));
            return;
        }
        if (noloco != null) {
            startNoLoCo(c, now);
            return;
        }
        // A DiLoCo client one version past its push pulls only the fragment it pushed (all that version changed).
        int fragment = loops != null && loops[c] != null && !codecs.lossyPulls() ? loops[c].fragmentFor(base) : -1;
        long pullBytes = fragment >= 0 ? codecs.pullFragment(c, base, strategy.model(), fragmentBytes(c, fragment))
                : codecs.pull(c, base, strategy.model());
        bytesDown += pullBytes;
        traffic.add(now + config.network().seconds(pullBytes), pullBytes);
        if (startedPulls.get(c)) {
            trafficAfterStart.add(now + config.network().seconds(pullBytes), pullBytes);
        }
        startedPulls.set(c);
        long round = rounds[c]++;
        long seed = Seeds.mix(config.seed(), Seeds.PLAN, c, round);
        long examples = loops == null && pool != null ? workload.examplesPerUpdate(c) : -1;
        CompletableFuture<Trained> done;
        long wireBytes;
        if (examples >= 0) {
            // The update's duration is known before training, so it trains on the pool while the clock runs;
            // its own trainer and an immutable published model make the result the same as in order.
            TensorMap model = codecs.model(base, strategy.model());
            boolean coded = config.codecs().coded();
            done = CompletableFuture.supplyAsync(() -> {
                TrainResult r = workload.train(c, model, seed);
                return coded ? Trained.pending(r) : Trained.of(r);
            }, pool);
            wireBytes = codecs.fixedWireSize();
        } else {
            TrainResult r = loops == null ? workload.train(c, codecs.model(base, strategy.model()), seed) : innerRound(c, base, fragment);
            Trained t = config.codecs().coded() ? Trained.coded(r, codecs.push(c, r.delta())) : Trained.of(r);
            done = CompletableFuture.completedFuture(t);
            examples = t.result().examples();
            wireBytes = t.wireBytes();
        }
        String id = Seeds.uuid(config.seed(), Seeds.UPDATE_ID, c, round).toString();
        double compute = Math.max(1, examples) / speed[c];
        SimConfig.Network net = config.network();
        double duration = net.seconds(pullBytes) + compute + net.seconds(wireBytes);
        inFlight[c] = true;
        peakTraining = Math.max(peakTraining, ++training);
        training(done);
        schedule(now + duration, new Arrival(c, generation[c], new Flight(id, base, examples, wireBytes, done)));
    }

    private void arrive(Arrival a, double now) {
        int c = a.client();
        if (a.generation() != generation[c]) {
            return;
        }
        inFlight[c] = false;
        training--;
        if (noloco != null) {
            arriveNoLoCo(c, a.flight(), now);
            return;
        }
        Flight f = a.flight();
        Trained t = f.done().join();
        if (t.pending() != null) {
            ClientCodecs.Coded coded = codecs.push(c, t.pending());
            t = new Trained(t.result(), coded.image(), coded.wireBytes(), null);
        }
        if (t.result().examples() != f.examples() || t.wireBytes() != f.wireBytes()) {
            throw new IllegalStateException("client " + c + ": trained " + t.result().examples() + " examples into "
                    + t.wireBytes() + " bytes, scheduled for " + f.examples() + " into " + f.wireBytes());
        }
        pushed++;
        bytesUp += t.wireBytes();
        decodedBytesUp += t.image().byteSize();
        traffic.add(now, t.wireBytes());
        trafficUp.add(now, t.wireBytes());
        trafficAfterStart.add(now, t.wireBytes());
        TrainResult r = t.result();
        boolean published = false;
        switch (admission.offer(f.id(), NoLoCoClients.id(c), f.base(), r.examples(), r.steps(), r.metrics(), t.image())) {
            case Admission.Accepted acc -> {
                staleness.add(acc.staleness());
                published = acc.decision() instanceof Published;
            }
            case Admission.Rejected rej -> {
                refused.merge(rej.reason(), 1L, Long::sum);
                codecs.baseJumped(c, "its update " + f.id() + " was refused (" + rej.reason() + ")");
            }
        }
        lastPushedBase[c] = f.base();
        if (loops != null && loops[c] != null) {
            // The overlap steps run while the push travels; the next merge waits for them.
            busyUntil[c] = now + Math.max(0, loops[c].overlap()) / speed[c];
        }
        if (!config.limited()) {
            if (published) {
                wakeWaiting(now);
            }
            start(c, now);
        } else if (waitForNewVersion && !published) {
            waiting.set(c); // holds its slot until the round it pushed to closes
        } else {
            release(c);
            if (published) {
                wakeWaiting(now);
            }
            fill(now);
        }
        report(now);
    }

    /** NoLoCo: H inner steps, then the offer (φ and δ) travels up to the relay. */
    private void startNoLoCo(int c, double now) {
        long round = rounds[c]++;
        long examples = noloco.train(c, workload, Seeds.mix(config.seed(), Seeds.PLAN, c));
        long offerBytes = 2 * modelBytes;
        double duration = Math.max(1, examples) / speed[c] + config.network().seconds(offerBytes);
        inFlight[c] = true;
        peakTraining = Math.max(peakTraining, ++training);
        String id = NoLoCoClients.id(c);
        schedule(now + duration, new Arrival(c, generation[c], new Flight(id, round, examples, offerBytes,
                CompletableFuture.completedFuture(null))));
    }

    /** NoLoCo: the relay pairs the offer, the peer's pair travels down, the client steps and starts again. */
    private void arriveNoLoCo(int c, Flight f, double now) {
        pushed++;
        bytesUp += f.wireBytes();
        traffic.add(now, f.wireBytes());
        trafficUp.add(now, f.wireBytes());
        trafficAfterStart.add(now, f.wireBytes());
        answered(noloco.offer(c, now), now);
    }

    /** NoLoCo: each answered client's peer pair travels down, and the client starts its next round. */
    private void answered(List<NoLoCoClients.Answered> answers, double now) {
        for (NoLoCoClients.Answered a : answers) {
            int c = a.client();
            staleness.add(0);
            long reply = a.paired() ? 2 * modelBytes : 0;
            double back = config.network().seconds(reply);
            bytesDown += reply;
            traffic.add(now + back, reply);
            trafficAfterStart.add(now + back, reply);
            busyUntil[c] = now + back;
            start(c, now);
        }
        double d = noloco.deadline();
        if (d < matchDeadline) {
            matchDeadline = d;
            schedule(d, new MatchDeadline());
        }
        report(now);
    }

    /** DiLoCo: merges the current version into client {@code c}'s replica (opened at its first round) and runs to its push. */
    private TrainResult innerRound(int c, long version, int fragment) {
        // A fragment pull is exact (the real coordinator answers it before a lossy pull); a whole pull may be coded.
        TensorMap global = fragment >= 0 ? strategy.model() : codecs.model(version, strategy.model());
        if (loops[c] == null) {
            loops[c] = new DiLoCoLoop(innerPlan, workload.open(c, global, innerPlan.optimizer(),
                    Seeds.mix(config.seed(), Seeds.PLAN, c)), global, version);
        } else if (fragment >= 0) {
            loops[c].mergeFragment(Fragments.cut(global, loops[c].fragment(fragment)), version);
        } else if (loops[c].awaitingMerge() || loops[c].version() != version) {
            loops[c].merge(global, version);
        }
        return loops[c].prepare().result();
    }

    /** The safetensors image of fragment {@code f}'s values, as a fragment pull carries them. */
    private long fragmentBytes(int c, int f) {
        if (fragmentBytes == null) {
            fragmentBytes = new long[innerPlan.fragments().size()];
        }
        if (fragmentBytes[f] == 0) {
            fragmentBytes[f] = SafetensorsBytes.encodedSize(Fragments.cut(strategy.model(), loops[c].fragment(f)), Map.of());
        }
        return fragmentBytes[f];
    }

    /** Keeps {@code done} until it completes, so that the run waits for it before closing the trainers. */
    private void training(CompletableFuture<Trained> done) {
        if (!done.isDone()) {
            running.add(done);
            running.removeIf(CompletableFuture::isDone);
        }
    }

    private void awaitPool() {
        try {
            pool.awaitTermination(1, TimeUnit.HOURS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void closeLoops() {
        if (loops != null) {
            for (DiLoCoLoop l : loops) {
                if (l != null) {
                    l.close();
                }
            }
        }
    }

    private void wakeWaiting(double now) {
        for (int i = waiting.nextSetBit(0); i >= 0; i = waiting.nextSetBit(i + 1)) {
            waiting.clear(i);
            if (config.limited()) {
                release(i);
            } else {
                start(i, now);
            }
        }
        if (config.limited()) {
            fill(now);
        }
    }

    /** Frees client {@code c}'s slot. */
    private void release(int c) {
        if (active[c]) {
            active[c] = false;
            activeCount--;
        }
    }

    /** Gives every free slot to an idle online client drawn uniformly. */
    private void fill(double now) {
        while (activeCount < config.concurrency()) {
            int idle = 0;
            for (int i = 0; i < online.length; i++) {
                idle += online[i] && !active[i] ? 1 : 0;
            }
            if (idle == 0) {
                return;
            }
            int pick = sampler.nextInt(idle);
            int c = 0;
            while (!(online[c] && !active[c]) || pick-- > 0) {
                c++;
            }
            active[c] = true;
            activeCount++;
            start(c, now);
        }
    }

    private void toggle(int c, double now) {
        SimConfig.Churn churn = config.churn();
        if (online[c]) {
            online[c] = false;
            waiting.clear(c);
            if (config.limited()) {
                release(c);
            }
            if (inFlight[c]) {
                inFlight[c] = false;
                training--;
                generation[c]++;
                lost++;
                codecs.baseJumped(c, "went offline with an update in flight");
                if (noloco != null) {
                    noloco.lose(c);
                    evaluatedVersion = -1; // its replica is gone: the workers to score changed
                }
            } else if (noloco != null && noloco.waiting(c)) {
                lost++; // its offer was waiting for a partner: withdrawn, unanswered
                noloco.lose(c);
                evaluatedVersion = -1;
            }
            schedule(now + exponential(churnRandom[c], churn.meanOfflineSeconds()), new Toggle(c));
            if (config.limited()) {
                fill(now);
            }
        } else {
            online[c] = true;
            schedule(now + exponential(churnRandom[c], churn.meanOnlineSeconds()), new Toggle(c));
            if (config.limited()) {
                fill(now);
            } else {
                start(c, now);
            }
        }
    }

    /** Scores the current model (once per version) and adds a point to the curve. */
    private void evaluate(double now) {
        if (strategy.version() != evaluatedVersion) {
            if (noloco != null) {
                replicaScores = noloco.score(workload);
                accuracy = replicaScores.mean();
            } else {
                accuracy = workload.accuracy(strategy.model());
            }
            evaluatedVersion = strategy.version();
        }
        curve.add(new SimReport.Point(now, accuracy, bytesUp + bytesDown));
        if (noloco != null) {
            replicaCurve.add(new SimReport.Replicas(now, replicaScores.mean(), replicaScores.min(), replicaScores.max(),
                    replicaScores.averaged()));
        }
        codecs.sample(now, bytesUp, bytesDown);
        if (reachedAt == null && !Double.isNaN(config.target()) && accuracy >= config.target()) {
            reachedAt = now;
        }
        report(now);
    }

    private void report(double now) {
        listener.progress(new Progress(now, config.budget().virtualSeconds(), strategy.version(), accuracy,
                staleness.total()));
    }

    private void schedule(double time, Event e) {
        // An evaluation at t scores the model with everything that arrived up to t.
        queue.add(new Scheduled(time, e instanceof Evaluate ? 1 : 0, seq++, e));
    }

    private static double exponential(SplittableRandom r, double mean) {
        return -mean * Math.log(1 - r.nextDouble());
    }
}

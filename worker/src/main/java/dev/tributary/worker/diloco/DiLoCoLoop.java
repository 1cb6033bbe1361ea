package dev.tributary.worker.diloco;

import dev.tributary.tensor.Fragments;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import dev.tributary.worker.Replica;
import dev.tributary.worker.TrainResult;
import java.util.List;
import java.util.Map;

/**
 * One DiLoCo worker between its pushes, without I/O, so that the worker and the simulator run the same
 * steps: a local replica that trains on through every round, and the last global model taken in. A round
 * (the version v the worker holds) runs its steps less the delay, pushes fragment v mod F as
 * local − global (everything since that fragment's last sync), runs the delay's steps while the push
 * travels, and then takes in version v+1: the fragment becomes (1 − α)·global + α·local, computed as
 * {@code torch.lerp(local, global, 1 − α)}. A version other than v+1 (rounds missed, a push refused)
 * replaces the whole replica with the global model; the optimizer state carries on either way.
 *
 * <p>Fragments are slices of tensors ({@link Fragments}), resolved from the plan's names against the
 * model's tensors: a fragment that cuts a tensor pushes, and mixes in, only its elements. Version v+1
 * differs from version v only in fragment v mod F, so taking in v+1 needs only that fragment's values
 * ({@link #mergeFragment}, a fragment pull); the loop keeps the rest of the global model it holds.
 *
 * <p>Call order: {@link #prepare}, optionally {@link #overlap}, {@link #merge}; again.
 */
public final class DiLoCoLoop implements AutoCloseable {
    private final DiLoCoPlan plan;
    private final Replica replica;
    private final List<List<Fragments.Slice>> slices;
    private TensorMap global;
    private long version;
    private Outgoing pushed;
    private boolean overlapped;
    private long examples;
    private int steps;
    private double lossSum;
    private int lossSteps;

    /**
     * A pushed fragment.
     *
     * @param fragment    the fragment's index
     * @param baseVersion the global version it was trained from
     * @param result      local − global of the fragment's values (a tensor it cuts as the 1-D slice), with the
     *                    examples and steps since the last push
     */
    public record Outgoing(int fragment, long baseVersion, TrainResult result) {}

    /**
     * @param replica opened from {@code global}; closed with this loop
     * @param global  the global model at {@code version}, kept (not copied) until the next merge
     * @throws IllegalArgumentException when the plan's fragments do not fit the model's tensors
     */
    public DiLoCoLoop(DiLoCoPlan plan, Replica replica, TensorMap global, long version) {
        this.plan = plan;
        this.replica = replica;
        this.slices = Fragments.resolve(plan.fragments(), global.infos());
        this.global = global;
        this.version = version;
    }

    /** The global model last taken in (never written by the loop). */
    public TensorMap global() {
        return global;
    }

    /** Fragment {@code f}'s slices. */
    public List<Fragments.Slice> fragment(int f) {
        return slices.get(f);
    }

    /**
     * The fragment whose values alone bring the loop to {@code current} ({@link #mergeFragment}): the one
     * pushed, when {@code current} is the version right after its base; else -1 (a whole model is needed).
     */
    public int fragmentFor(long current) {
        return pushed != null && current == pushed.baseVersion() + 1 ? pushed.fragment() : -1;
    }

    public DiLoCoPlan plan() {
        return plan;
    }

    /** The version of the global model last taken in. */
    public long version() {
        return version;
    }

    /** Whether a push of this round waits for its merge. */
    public boolean awaitingMerge() {
        return pushed != null;
    }

    /** Inner steps {@link #overlap} runs after each push. */
    public int delay() {
        return plan.delay();
    }

    /** Runs the round's steps up to its push and returns the fragment's pseudo-gradient as a delta. */
    public Outgoing prepare() {
        if (pushed != null) {
            throw new IllegalStateException("round " + version + " was pushed: merge a newer version first");
        }
        run(plan.stepsOf(version) - plan.delay());
        int f = plan.fragmentOf(version);
        List<Fragments.Slice> fragment = slices.get(f);
        TensorMap local = Fragments.cut(replica.weights(plan.fragments().get(f)), fragment);
        TensorMap base = Fragments.cut(global, fragment);
        TensorMap delta = new TensorMap();
        for (Fragments.Slice s : fragment) {
            float[] l = local.tensor(s.name()).toFloatArray();
            float[] g = base.tensor(s.name()).toFloatArray();
            for (int i = 0; i < l.length; i++) {
                l[i] -= g[i];
            }
            delta.put(s.name(), Tensor.ofFloats(local.tensor(s.name()).shape(), l));
        }
        Map<String, Double> metrics = lossSteps == 0 ? Map.of() : Map.of("loss", lossSum / lossSteps);
        pushed = new Outgoing(f, version, new TrainResult(delta, examples, steps, metrics));
        examples = 0;
        steps = 0;
        lossSum = 0;
        lossSteps = 0;
        overlapped = false;
        return pushed;
    }

    /**
     * The delay's steps, which overlap the push's communication; once per round, nothing without a push.
     *
     * @return the examples those steps took (0 when nothing ran)
     */
    public long overlap() {
        if (pushed == null || overlapped) {
            return 0;
        }
        overlapped = true;
        long before = examples;
        run(plan.delay());
        return examples - before;
    }

    /**
     * Takes in the global model {@code next} at {@code nextVersion} (kept, not copied, until the next merge),
     * after the overlap if it has not run.
     */
    public void merge(TensorMap next, long nextVersion) {
        overlap();
        if (fragmentFor(nextVersion) >= 0) {
            mix(Fragments.cut(next, slices.get(pushed.fragment())));
        } else if (nextVersion != version) {
            replica.assign(next);
        }
        global = next;
        version = nextVersion;
        pushed = null;
    }

    /**
     * Takes in version {@code nextVersion} from only the pushed fragment's values at it ({@code values}, as
     * {@link Fragments#cut} gives them), after the overlap if it has not run; the rest of the global model is
     * the one held, which that version left as it was.
     *
     * @throws IllegalStateException when {@code nextVersion} is not the version right after the pushed base
     */
    public void mergeFragment(TensorMap values, long nextVersion) {
        int f = fragmentFor(nextVersion);
        if (f < 0) {
            throw new IllegalStateException("version " + nextVersion + " needs the whole model: the loop holds version "
                    + version + (pushed == null ? " and pushed nothing" : " and pushed fragment " + pushed.fragment()));
        }
        overlap();
        mix(values);
        global = Fragments.paste(global, values, slices.get(f));
        version = nextVersion;
        pushed = null;
    }

    /** The pushed fragment's elements of the replica become lerp(local, global, 1 − α). */
    private void mix(TensorMap values) {
        List<Fragments.Slice> fragment = slices.get(pushed.fragment());
        TensorMap local = replica.weights(plan.fragments().get(pushed.fragment()));
        float weight = (float) (1 - plan.alpha());
        TensorMap mixed = new TensorMap();
        for (Fragments.Slice s : fragment) {
            float[] l = local.tensor(s.name()).toFloatArray();
            float[] g = values.tensor(s.name()).toFloatArray();
            if (g.length != s.length()) {
                throw new IllegalArgumentException("fragment " + pushed.fragment() + ": tensor " + s.name() + " has "
                        + g.length + " values for slice " + s);
            }
            int start = (int) s.start();
            for (int i = 0; i < g.length; i++) {
                l[start + i] = lerp(l[start + i], g[i], weight);
            }
            mixed.put(s.name(), Tensor.ofFloats(local.tensor(s.name()).shape(), l));
        }
        replica.assign(mixed);
    }

    /** {@code torch.lerp(start, end, weight)} as PyTorch's CPU kernel computes it. */
    static float lerp(float start, float end, float weight) {
        return Math.abs(weight) < 0.5f ? start + weight * (end - start) : end - (end - start) * (1 - weight);
    }

    private void run(int n) {
        if (n <= 0) {
            return;
        }
        TrainResult r = replica.train(n);
        examples += r.examples();
        steps += r.steps();
        Double loss = r.metrics().get("loss");
        if (loss != null && !loss.isNaN()) {
            lossSum += loss * r.steps();
            lossSteps += r.steps();
        }
    }

    @Override
    public void close() {
        replica.close();
    }
}

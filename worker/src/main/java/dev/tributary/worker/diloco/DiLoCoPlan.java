package dev.tributary.worker.diloco;

import dev.tributary.worker.InnerOptimizer;
import java.util.List;
import java.util.Objects;

/**
 * DiLoCo's inner loop as the coordinator hands it over at registration: H inner steps between two syncs
 * of a fragment, F fragments synced in turn (round v syncs fragment v mod F and runs its share of H:
 * ⌊(v+1)H/F⌋ − ⌊vH/F⌋ steps), Streaming DiLoCo's merge weight α and overlap delay d.
 *
 * @param innerSteps H (≥ F)
 * @param fragments  the tensors each fragment touches, in sync order (a tensor named by consecutive fragments
 *                   is cut between them, see {@link dev.tributary.tensor.Fragments#resolve})
 * @param alpha      after a sync the fragment becomes (1 − α)·global + α·local
 * @param delay      steps between a fragment's push and its merge, below ⌊H/F⌋
 * @param optimizer  the inner optimizer, kept across rounds
 */
public record DiLoCoPlan(int innerSteps, List<List<String>> fragments, double alpha, int delay, InnerOptimizer optimizer) {
    public DiLoCoPlan {
        fragments = List.copyOf(fragments.stream().map(List::copyOf).toList());
        Objects.requireNonNull(optimizer, "optimizer");
        if (fragments.isEmpty()) {
            throw new IllegalArgumentException("a DiLoCo plan needs at least one fragment");
        }
        if (innerSteps < fragments.size()) {
            throw new IllegalArgumentException("inner steps " + innerSteps + " < fragments " + fragments.size());
        }
        if (!(alpha >= 0 && alpha <= 1)) {
            throw new IllegalArgumentException("mixing alpha must be in [0, 1]: " + alpha);
        }
        if (delay < 0 || delay >= innerSteps / fragments.size()) {
            throw new IllegalArgumentException("sync delay " + delay + ": must be in [0, inner steps / fragments = "
                    + innerSteps / fragments.size() + ")");
        }
    }

    /** The plan a registration reply carries. */
    public static DiLoCoPlan of(dev.tributary.protocol.InnerLoop p) {
        dev.tributary.protocol.InnerOptimizer o = p.getOptimizer();
        InnerOptimizer optimizer = new InnerOptimizer(o.getName(), o.getLr(), o.getWeightDecay(), o.getBeta1(),
                o.getBeta2(), o.getEps(), o.getMomentum());
        return new DiLoCoPlan(p.getInnerSteps(), p.getFragmentsList().stream().map(f -> List.copyOf(f.getTensorsList())).toList(),
                p.getMixingAlpha(), p.getSyncDelay(), optimizer);
    }

    /** The fragment round {@code version} syncs. */
    public int fragmentOf(long version) {
        return (int) Math.floorMod(version, (long) fragments.size());
    }

    /** Inner steps of round {@code version}: its share of H, so that F rounds take H steps. */
    public int stepsOf(long version) {
        long f = fragments.size();
        long k = Math.floorMod(version, f);
        return (int) ((k + 1) * innerSteps / f - k * innerSteps / f);
    }
}

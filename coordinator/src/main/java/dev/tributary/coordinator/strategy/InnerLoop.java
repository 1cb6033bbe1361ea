package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.Fragments;
import dev.tributary.tensor.TensorInfo;
import java.util.List;
import java.util.Objects;

/**
 * What DiLoCo's workers run between syncs, handed to them at registration: H inner steps with a
 * persistent inner optimizer, the fragments synced in turn (round v syncs fragment v mod F), Streaming
 * DiLoCo's merge weight α and its overlap of {@code delay} steps. The coordinator only relays it; the
 * outer step is the strategy's.
 *
 * @param innerSteps H, inner steps between two syncs of one fragment (≥ number of fragments)
 * @param fragments  each fragment's slices, in sync order (together the whole model, see {@link Fragments})
 * @param alpha      local fragment after a sync = (1 − α)·global + α·local, α in [0, 1]
 * @param delay      inner steps between a fragment's push and its merge, below H / fragments
 * @param optimizer  the inner optimizer
 */
public record InnerLoop(int innerSteps, List<List<Fragments.Slice>> fragments, double alpha, int delay,
        Optimizer optimizer) {
    public InnerLoop {
        fragments = List.copyOf(fragments.stream().map(List::copyOf).toList());
        Objects.requireNonNull(optimizer, "optimizer");
    }

    /** The tensors each fragment touches, as registration lists them ({@link Fragments#resolve} recovers the slices). */
    public List<List<String>> names() {
        return Fragments.names(fragments);
    }

    /**
     * The layout of each fragment's values ({@link Fragments#layout}) when there are several, else empty:
     * what a partial delta may hold.
     */
    public List<List<TensorInfo>> layouts(List<TensorInfo> model) {
        return fragments.size() == 1 ? List.of() : fragments.stream().map(f -> Fragments.layout(model, f)).toList();
    }

    /**
     * The inner optimizer as PyTorch defines it: {@code adamw} (torch.optim.AdamW, DiLoCo's lr 4e-4,
     * weight decay 0.1, β (0.9, 0.95), ε 1e-8) or {@code sgd} (torch.optim.SGD with momentum and L2 decay).
     */
    public record Optimizer(String name, double lr, double weightDecay, double beta1, double beta2, double eps,
            double momentum) {}

    /** Parses the {@code inner_steps}, {@code mixing_alpha}, {@code sync_delay} and {@code inner_optimizer} keys. */
    static InnerLoop parse(Config c, List<List<Fragments.Slice>> fragments) {
        return parse(c, fragments, 500);
    }

    /** As {@link #parse(Config, List)} with another default H. */
    static InnerLoop parse(Config c, List<List<Fragments.Slice>> fragments, int defaultSteps) {
        int h = c.count("inner_steps", defaultSteps, 1);
        int f = fragments.size();
        if (h < f) {
            throw new IllegalArgumentException(c.path("inner_steps") + ": must be >= fragments " + f + ", got " + h);
        }
        double alpha = c.number("mixing_alpha", 0);
        if (!(alpha >= 0 && alpha <= 1)) {
            throw new IllegalArgumentException(c.path("mixing_alpha") + ": must be in [0, 1], got " + alpha);
        }
        int delay = c.count("sync_delay", 0, 0);
        if (delay >= h / f) {
            throw new IllegalArgumentException(c.path("sync_delay") + ": must be < inner_steps / fragments = " + h / f
                    + ", got " + delay);
        }
        Config o = Config.section(c.path("inner_optimizer"), c.raw("inner_optimizer"), "adamw");
        String name = o.text("name", "adamw");
        boolean adamw = name.equals("adamw");
        if (!adamw && !name.equals("sgd")) {
            throw new IllegalArgumentException(o.path("name") + ": must be adamw or sgd, got \"" + name + "\"");
        }
        double lr = o.positive("lr", adamw ? 4e-4 : 0.01);
        double wd = o.nonNegative("weight_decay", adamw ? 0.1 : 0);
        double b1 = adamw ? Settings.unit(o, "beta1", 0.9) : 0;
        double b2 = adamw ? Settings.unit(o, "beta2", 0.95) : 0;
        double eps = adamw ? o.positive("eps", 1e-8) : 0;
        double momentum = adamw ? 0 : Settings.unit(o, "momentum", 0);
        o.finish();
        return new InnerLoop(h, fragments, alpha, delay, new Optimizer(name, lr, wd, b1, b2, eps, momentum));
    }
}

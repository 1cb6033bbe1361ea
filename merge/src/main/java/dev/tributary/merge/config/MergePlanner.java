package dev.tributary.merge.config;

import dev.tributary.merge.MergeException;
import dev.tributary.merge.MergeJob;
import dev.tributary.merge.MergeMethod;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a {@link MergeConfig} into the output tensor by tensor, as mergekit's planner does: which
 * tensor of which model goes into each output tensor, and every parameter evaluated for that tensor's
 * name and depth (see {@link Setting}). In a slice of n layers, layer k of the slice has depth
 * k/(n − 1) (1 when n = 1); in the {@code models:} form the whole stack is one slice; tensors outside the
 * layers have depth 0. Output layers are numbered in order across slices; embeddings come from the first
 * slice's models, the tensors after the layers from the last slice's. Global parameters see the output
 * tensor's name, a model's parameters the name of its own input tensor.
 */
final class MergePlanner {

    /** An opened model. */
    record Model(Path path, String name, TensorSource source) {}

    /** Opens the checkpoint at a path; {@code key} names the config entry for errors. */
    @FunctionalInterface
    interface Opener {
        Model open(Path path, String key);
    }

    /**
     * The planned output.
     *
     * @param outputs the output tensors, in writing order
     * @param layers  for slices, where each output layer comes from (the base or first source of its
     *                slice), in output order; empty for the {@code models:} form
     */
    record Plan(List<MergeJob.Output> outputs, List<Origin> layers) {}

    /** Layer {@code layer} of the model at {@code model}. */
    record Origin(Path model, int layer) {}

    private final MergeConfig config;
    private final MergeMethod method;
    private final Opener opener;

    private MergePlanner(MergeConfig config, MergeMethod method, Opener opener) {
        this.config = config;
        this.method = method;
        this.opener = opener;
    }

    static Plan plan(MergeConfig config, MergeMethod method, Opener opener) {
        MergePlanner p = new MergePlanner(config, method, opener);
        return config.slices().isEmpty() ? p.planModels() : p.planSlices();
    }

    private Plan planModels() {
        List<Model> models = new ArrayList<>();
        for (int i = 0; i < config.models().size(); i++) {
            models.add(opener.open(config.models().get(i).path(), "models[" + i + "].model"));
        }
        Model base = method.requiresBase() && config.baseModel() != null
                ? opener.open(config.baseModel(), "base_model") : null;
        Model ref = base != null ? base : models.getFirst();
        String refWho = (ref == base ? "base model " : "model ") + ref.name();
        Set<String> refNames = new HashSet<>(ref.source().names());
        for (Model m : models) {
            if (m == ref) {
                continue;
            }
            Set<String> names = new HashSet<>(m.source().names());
            for (String n : m.source().names()) {
                if (!refNames.contains(n)) {
                    throw new MergeException("model " + m.name() + ": tensor " + n + ": not in " + refWho);
                }
            }
            for (String n : ref.source().names()) {
                if (!names.contains(n)) {
                    throw new MergeException("model " + m.name() + ": tensor " + n + ": missing (present in " + refWho + ")");
                }
            }
        }
        Map<String, Layers.Stack> stacks = Layers.stacks(ref.source().names());
        List<MergeJob.Output> outputs = new ArrayList<>();
        for (String name : ref.source().names()) {
            Layers.Name layer = Layers.parse(name);
            double t = layer == null ? 0 : Layers.depth(layer.index(), stacks.get(layer.stack()).count());
            List<MergeJob.Part> parts = new ArrayList<>();
            for (int i = 0; i < models.size(); i++) {
                parts.add(part(models.get(i), name, config.models().get(i).parameters(), t,
                        "models[" + i + "] (" + models.get(i).name() + ")"));
            }
            MergeJob.Part b = base == null ? null : new MergeJob.Part(base.name(), base.source(), name, Map.of());
            outputs.add(new MergeJob.Output(name, parts, b, Setting.evaluate(config.parameters(), name, t)));
        }
        return new Plan(outputs, List.of());
    }

    /** One slice with its models opened: the base (for methods with one) apart from the others. */
    private record Opened(MergeConfig.Slice slice, int index, List<Model> sources, Model base, List<Integer> merged) {
        Model reference() {
            return base != null ? base : sources.get(merged.getFirst());
        }

        int referenceIndex() {
            return sources.indexOf(reference());
        }
    }

    private Plan planSlices() {
        List<Opened> slices = new ArrayList<>();
        for (int i = 0; i < config.slices().size(); i++) {
            slices.add(open(config.slices().get(i), i));
        }
        Model first = slices.getFirst().reference();
        Map<String, Layers.Stack> firstStacks = Layers.stacks(first.source().names());
        if (firstStacks.size() != 1) {
            throw new MergeException("slices: model " + first.name() + " has " + firstStacks.size() + " layer stacks "
                    + firstStacks.keySet() + "; slices work on models with exactly one");
        }
        String prefix = firstStacks.keySet().iterator().next();
        List<MergeJob.Output> layers = new ArrayList<>();
        List<Origin> origins = new ArrayList<>();
        for (Opened s : slices) {
            List<Layers.Stack> stacks = new ArrayList<>();
            for (int j = 0; j < s.sources().size(); j++) {
                stacks.add(stackOf(s, j, prefix));
            }
            int n = s.slice().sources().getFirst().layers();
            int r = s.referenceIndex();
            for (int offset = 0; offset < n; offset++) {
                int k = offset;
                double t = Layers.depth(k, n);
                int refLayer = s.slice().sources().get(r).from() + k;
                for (String suffix : stacks.get(r).layers().get(refLayer)) {
                    String out = prefix + origins.size() + "." + suffix;
                    layers.add(output(s, out, j -> prefix + (s.slice().sources().get(j).from() + k) + "." + suffix, t));
                }
                origins.add(new Origin(s.reference().path(), refLayer));
            }
        }
        List<MergeJob.Output> outputs = new ArrayList<>();
        outputs.addAll(outside(slices.getFirst(), true));
        outputs.addAll(layers);
        outputs.addAll(outside(slices.getLast(), false));
        return new Plan(outputs, origins);
    }

    private Opened open(MergeConfig.Slice slice, int i) {
        Path basePath = method.requiresBase()
                ? (slice.baseModel() != null ? slice.baseModel() : config.baseModel()) : null;
        if (method.requiresBase() && basePath == null) {
            throw new MergeException("slices[" + i + "]: base_model: required by " + method.name());
        }
        List<Model> sources = new ArrayList<>();
        Model base = null;
        List<Integer> merged = new ArrayList<>();
        for (int j = 0; j < slice.sources().size(); j++) {
            Path p = slice.sources().get(j).path();
            Model m = opener.open(p, "slices[" + i + "].sources[" + j + "].model");
            sources.add(m);
            if (base == null && basePath != null && p.toAbsolutePath().normalize().equals(basePath.toAbsolutePath().normalize())) {
                base = m;
            } else {
                merged.add(j);
            }
        }
        if (basePath != null && base == null) {
            throw new MergeException("slices[" + i + "]: base_model " + basePath.getFileName() + " is not among the "
                    + "slice's sources; " + method.name() + " needs it there, with the same layer_range");
        }
        if (merged.isEmpty()) {
            throw new MergeException("slices[" + i + "]: has only the base model as source; nothing to merge onto it");
        }
        return new Opened(slice, i, sources, base, merged);
    }

    private static Layers.Stack stackOf(Opened s, int j, String prefix) {
        MergeConfig.Source src = s.slice().sources().get(j);
        Model m = s.sources().get(j);
        String where = "slices[" + s.index() + "].sources[" + j + "] (" + m.name() + ")";
        Layers.Stack stack = Layers.stacks(m.source().names()).get(prefix);
        if (stack == null) {
            throw new MergeException(where + ": has no layers named " + prefix + "N.*");
        }
        if (src.to() > stack.count()) {
            throw new MergeException(where + ": layer_range [" + src.from() + ", " + src.to() + "] is out of bounds: "
                    + "the model has " + stack.count() + " layers (0.." + (stack.count() - 1) + ")");
        }
        return stack;
    }

    @FunctionalInterface
    private interface InputName {
        String of(int source);
    }

    private MergeJob.Output output(Opened s, String out, InputName input, double t) {
        Map<String, Object> globals = new LinkedHashMap<>(Setting.evaluate(config.parameters(), out, t));
        globals.putAll(Setting.evaluate(s.slice().parameters(), out, t));
        List<MergeJob.Part> parts = new ArrayList<>();
        for (int j : s.merged()) {
            Model m = s.sources().get(j);
            parts.add(part(m, input.of(j), s.slice().sources().get(j).parameters(), t,
                    "slices[" + s.index() + "].sources[" + j + "] (" + m.name() + ")"));
        }
        MergeJob.Part base = null;
        if (s.base() != null) {
            base = new MergeJob.Part(s.base().name(), s.base().source(), input.of(s.sources().indexOf(s.base())), Map.of());
        }
        return new MergeJob.Output(out, parts, base, globals);
    }

    /** The tensors outside the layers, before them (embeddings) or after, taken from one slice's models. */
    private List<MergeJob.Output> outside(Opened s, boolean before) {
        List<MergeJob.Output> out = new ArrayList<>();
        for (TensorInfo info : s.reference().source().infos()) {
            String name = info.name();
            if (Layers.parse(name) == null && Layers.beforeLayers(name) == before) {
                out.add(output(s, name, j -> name, 0));
            }
        }
        return out;
    }

    private MergeJob.Part part(Model m, String tensor, Map<String, Setting> settings, double t, String where) {
        Map<String, Object> params = new LinkedHashMap<>(Setting.evaluate(settings, tensor, t));
        for (String key : method.tensorParameters()) {
            if (params.get(key) instanceof Path p) {
                params.put(key, opener.open(p, where + ": parameters." + key).source());
            }
        }
        return new MergeJob.Part(m.name(), m.source(), tensor, params);
    }
}

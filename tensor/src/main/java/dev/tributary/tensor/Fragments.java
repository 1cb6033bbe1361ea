package dev.tributary.tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A model cut into F fragments that are synced in turn (Streaming DiLoCo). A fragment is a list of
 * {@link Slice}s, each an element range of one tensor flattened in row-major order; together the
 * fragments cover every element of the model exactly once, and a tensor has at most one slice in a fragment.
 *
 * <p>Two cuts, both deterministic over the tensors in the order given:
 * <ul>
 *   <li>{@link #byTensors}: whole tensors in F contiguous groups of about equal element count; group k
 *       ends at the tensor boundary nearest to (k+1)/F of all elements (at least one tensor per group).</li>
 *   <li>{@link #byElements}: the tensors' concatenation, N elements, cut at ⌊kN/F⌋: fragment k holds
 *       elements [⌊kN/F⌋, ⌊(k+1)N/F⌋), so fragments differ by at most one element, whatever the tensors.</li>
 * </ul>
 *
 * <p>A fragment's values travel as a tensor map under the tensors' names ({@link #cut}): a slice that covers
 * its whole tensor keeps the tensor's shape, a slice of part of a tensor is a 1-D tensor of its elements.
 *
 * <p>The list of tensor names each fragment touches ({@link #names}) is enough to recover the slices
 * ({@link #resolve}) given the tensors' sizes: a tensor named by one fragment is whole in it; a tensor
 * named by consecutive fragments a..b is cut between them at the element boundaries ⌊kN/F⌋, N being the
 * elements of all tensors named, in order of first appearance. So both cuts go over the wire as names.
 */
public final class Fragments {
    private Fragments() {}

    /**
     * Elements [start, end) of tensor {@code name} flattened in row-major order.
     *
     * @param name  the tensor's name
     * @param start first element, ≥ 0
     * @param end   one past the last element, ≥ start
     */
    public record Slice(String name, long start, long end) {
        public Slice {
            Objects.requireNonNull(name, "name");
            if (start < 0 || end < start) {
                throw new IllegalArgumentException("slice of " + name + ": [" + start + ", " + end + ") is not a range");
            }
        }

        /** The slice's elements. */
        public long length() {
            return end - start;
        }

        /** Whether the slice is the whole of {@code info}. */
        public boolean whole(TensorInfo info) {
            return start == 0 && end == info.numel();
        }

        @Override
        public String toString() {
            return name + "[" + start + ":" + end + "]";
        }
    }

    /** Whole tensors in {@code count} contiguous groups of about equal element count (see the class comment). */
    public static List<List<Slice>> byTensors(List<TensorInfo> model, int count) {
        checkCount(count);
        if (count > model.size()) {
            throw new IllegalArgumentException("fragments: " + count + " fragments need at least as many tensors, "
                    + "the model has " + model.size() + " (fragment_split: elements cuts inside tensors)");
        }
        double total = elements(model);
        List<List<Slice>> out = new ArrayList<>(count);
        List<Slice> current = new ArrayList<>();
        long seen = 0;
        for (int i = 0; i < model.size(); i++) {
            TensorInfo t = model.get(i);
            long n = t.numel();
            double target = total * (out.size() + 1) / count;
            int groupsAfter = count - out.size() - 1;
            boolean mustClose = model.size() - i == groupsAfter;
            boolean closerBefore = Math.abs(seen - target) <= Math.abs(seen + n - target);
            if (!current.isEmpty() && groupsAfter > 0 && (mustClose || closerBefore)) {
                out.add(List.copyOf(current));
                current.clear();
            }
            current.add(new Slice(t.name(), 0, n));
            seen += n;
        }
        out.add(List.copyOf(current));
        return List.copyOf(out);
    }

    /** The tensors' concatenation cut at ⌊kN/F⌋ (see the class comment). */
    public static List<List<Slice>> byElements(List<TensorInfo> model, int count) {
        checkCount(count);
        long total = elements(model);
        if (total < count) {
            throw new IllegalArgumentException("fragments: " + count + " fragments need at least as many elements, "
                    + "the model has " + total);
        }
        List<List<Slice>> out = new ArrayList<>(count);
        for (int k = 0; k < count; k++) {
            out.add(new ArrayList<>());
        }
        long offset = 0;
        for (TensorInfo t : model) {
            long n = t.numel();
            if (n == 0) {
                out.get(fragmentAt(offset, total, count)).add(new Slice(t.name(), 0, 0));
                continue;
            }
            for (int k = fragmentAt(offset, total, count); k < count && boundary(k, total, count) < offset + n; k++) {
                long s = Math.max(boundary(k, total, count), offset) - offset;
                long e = Math.min(boundary(k + 1, total, count), offset + n) - offset;
                if (s < e) {
                    out.get(k).add(new Slice(t.name(), s, e));
                }
            }
            offset += n;
        }
        return out.stream().map(List::copyOf).toList();
    }

    /** The names of the tensors each fragment touches, in the fragment's order. */
    public static List<List<String>> names(List<List<Slice>> fragments) {
        return fragments.stream().map(f -> f.stream().map(Slice::name).toList()).toList();
    }

    /**
     * The slices that {@code names} (each fragment's tensors, as {@link #names} lists them) describe for a
     * model of {@code model}'s tensors (see the class comment).
     *
     * @throws IllegalArgumentException for a name the model lacks, a tensor of the model no fragment names,
     *                                  a tensor named twice in a fragment or by fragments that are not
     *                                  consecutive, or by a fragment the element cut gives none of it
     */
    public static List<List<Slice>> resolve(List<List<String>> names, List<TensorInfo> model) {
        int count = names.size();
        checkCount(count);
        Map<String, TensorInfo> byName = new HashMap<>();
        model.forEach(t -> byName.put(t.name(), t));
        Map<String, int[]> span = new LinkedHashMap<>(); // first and last fragment naming the tensor
        for (int k = 0; k < count; k++) {
            List<String> f = names.get(k);
            if (f.isEmpty()) {
                throw new IllegalArgumentException("fragment " + k + ": names no tensor");
            }
            for (String n : f) {
                if (!byName.containsKey(n)) {
                    throw new IllegalArgumentException("fragment " + k + ": tensor " + n + " is not in the model");
                }
                int[] s = span.get(n);
                if (s == null) {
                    span.put(n, new int[] {k, k});
                } else if (s[1] == k) {
                    throw new IllegalArgumentException("fragment " + k + ": names tensor " + n + " twice");
                } else if (s[1] != k - 1) {
                    throw new IllegalArgumentException("tensor " + n + ": named by fragments " + s[1] + " and " + k
                            + ", which are not consecutive");
                } else {
                    s[1] = k;
                }
            }
        }
        for (TensorInfo t : model) {
            if (!span.containsKey(t.name())) {
                throw new IllegalArgumentException("tensor " + t.name() + ": in no fragment");
            }
        }
        long total = 0;
        for (String n : span.keySet()) {
            total = Math.addExact(total, byName.get(n).numel());
        }
        Map<String, long[]> offsets = new HashMap<>();
        long offset = 0;
        for (String n : span.keySet()) {
            offsets.put(n, new long[] {offset, byName.get(n).numel()});
            offset += byName.get(n).numel();
        }
        List<List<Slice>> out = new ArrayList<>(count);
        for (int k = 0; k < count; k++) {
            List<Slice> f = new ArrayList<>();
            for (String n : names.get(k)) {
                int[] s = span.get(n);
                long off = offsets.get(n)[0];
                long numel = offsets.get(n)[1];
                if (s[0] == s[1]) {
                    f.add(new Slice(n, 0, numel));
                    continue;
                }
                long start = Math.max(boundary(k, total, count), off) - off;
                long end = Math.min(boundary(k + 1, total, count), off + numel) - off;
                if (start >= end) {
                    throw new IllegalArgumentException("fragment " + k + ": names tensor " + n + " (elements " + off
                            + " to " + (off + numel) + " of " + total + "), but the element cut gives it none of them");
                }
                f.add(new Slice(n, start, end));
            }
            out.add(List.copyOf(f));
        }
        return List.copyOf(out);
    }

    /** What {@link #cut} gives for {@code fragment}: the names, dtypes and shapes of its values. */
    public static List<TensorInfo> layout(List<TensorInfo> model, List<Slice> fragment) {
        Map<String, TensorInfo> byName = new HashMap<>();
        model.forEach(t -> byName.put(t.name(), t));
        List<TensorInfo> out = new ArrayList<>(fragment.size());
        for (Slice s : fragment) {
            TensorInfo t = byName.get(s.name());
            if (t == null) {
                throw new IllegalArgumentException("slice " + s + ": tensor not in the model");
            }
            out.add(s.whole(t) ? t : new TensorInfo(t.name(), t.dtype(), new long[] {s.length()}));
        }
        return out;
    }

    /**
     * {@code fragment}'s values of {@code model}: whole tensors as they are, cut ones as 1-D views of
     * their elements (no copies).
     */
    public static TensorMap cut(TensorMap model, List<Slice> fragment) {
        TensorMap out = new TensorMap();
        for (Slice s : fragment) {
            Tensor t = model.tensor(s.name());
            checkWithin(s, t);
            if (s.start() == 0 && s.end() == t.numel()) {
                out.put(s.name(), t);
            } else {
                DType d = t.dtype();
                out.put(s.name(), Tensor.of(d, new long[] {s.length()},
                        t.data().asSlice(d.byteSize(s.start()), d.byteSize(s.length()))));
            }
        }
        return out;
    }

    /**
     * {@code model} with {@code values} (a map as {@link #cut} gives for {@code fragment}) written over the
     * fragment's elements, tensor order kept. Neither input is written: a tensor cut by the fragment is a
     * fresh copy, a whole one is the value's tensor itself, the others are {@code model}'s.
     */
    public static TensorMap paste(TensorMap model, TensorMap values, List<Slice> fragment) {
        Map<String, Slice> bySlice = new HashMap<>();
        for (Slice s : fragment) {
            bySlice.put(s.name(), s);
        }
        TensorMap out = new TensorMap();
        for (String n : model.names()) {
            Tensor t = model.tensor(n);
            Slice s = bySlice.get(n);
            if (s == null) {
                out.put(n, t);
                continue;
            }
            checkWithin(s, t);
            Tensor v = values.tensor(n);
            if (v.numel() != s.length() || v.dtype() != t.dtype()) {
                throw new IllegalArgumentException("tensor " + n + ": value " + v + " does not fit slice " + s + " of "
                        + t);
            }
            if (s.start() == 0 && s.end() == t.numel()) {
                out.put(n, Shapes.same(v.shape(), t.shape()) ? v : Tensor.of(t.dtype(), t.shape(), v.data()));
            } else {
                Tensor copy = t.copy(java.lang.foreign.Arena.ofAuto());
                DType d = t.dtype();
                java.lang.foreign.MemorySegment.copy(v.data(), 0, copy.data(), d.byteSize(s.start()), v.byteSize());
                out.put(n, copy);
            }
        }
        return out;
    }

    private static void checkWithin(Slice s, Tensor t) {
        if (s.end() > t.numel()) {
            throw new IllegalArgumentException("slice " + s + ": beyond the tensor's " + t.numel() + " elements");
        }
    }

    private static void checkCount(int count) {
        if (count < 1) {
            throw new IllegalArgumentException("fragments: must be >= 1, got " + count);
        }
    }

    private static long elements(List<TensorInfo> model) {
        long total = 0;
        for (TensorInfo t : model) {
            total = Math.addExact(total, t.numel());
        }
        return total;
    }

    /** ⌊kN/F⌋, exact for any sizes. */
    private static long boundary(int k, long total, int count) {
        try {
            return Math.multiplyExact(k, total) / count;
        } catch (ArithmeticException e) {
            return java.math.BigInteger.valueOf(total).multiply(java.math.BigInteger.valueOf(k))
                    .divide(java.math.BigInteger.valueOf(count)).longValueExact();
        }
    }

    /** The fragment whose element range holds element {@code offset} (the last one for the end). */
    private static int fragmentAt(long offset, long total, int count) {
        int k = 0;
        while (k < count - 1 && boundary(k + 1, total, count) <= offset) {
            k++;
        }
        return k;
    }
}

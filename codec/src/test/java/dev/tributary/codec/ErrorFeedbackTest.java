package dev.tributary.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.codec.ErrorFeedback.Variant;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Error feedback over many steps of a constant update g: the receiver's running sum must stay within a
 * bounded distance of t·g (EF: the sum of the decoded messages; EF21: the sum of the estimates it
 * applies), while plain compression drifts away linearly.
 */
class ErrorFeedbackTest {
    private static final int STEPS = 150;

    static Stream<String> lossy() {
        return Samples.LOSSY.stream();
    }

    private static TensorMap constantUpdate() {
        SplittableRandom r = new SplittableRandom(42);
        return new TensorMap().put("w", Samples.gaussian(r, new long[] {10, 15}, 0.01))
                .put("b", Samples.gaussian(r, new long[] {50}, 0.001));
    }

    /** Largest |Σ received − t·g| after each step; column t holds the error after t + 1 steps. */
    private static double[] drift(Codec codec, Variant variant, boolean feedback) throws CodecException {
        TensorMap g = constantUpdate();
        int n = (int) g.parameters();
        double[] sum = new double[n];
        double[] gs = flat(g);
        double[] err = new double[STEPS];
        try (ErrorFeedback ef = ErrorFeedback.of(codec, variant); Ef21Receiver receiver = new Ef21Receiver()) {
            for (int t = 0; t < STEPS; t++) {
                byte[] msg = feedback ? ef.encode(g) : codec.encode(g);
                TensorMap decoded = codec.decode(msg, g.infos(), DecodeLimits.forLayout(g.infos()));
                double[] got = flat(feedback && variant == Variant.EF21 ? receiver.accept(decoded) : decoded);
                double worst = 0;
                for (int i = 0; i < n; i++) {
                    sum[i] += got[i];
                    worst = Math.max(worst, Math.abs(sum[i] - (t + 1) * gs[i]));
                }
                err[t] = worst;
            }
        }
        return err;
    }

    private static double[] flat(TensorMap m) {
        double[] out = new double[(int) m.parameters()];
        int j = 0;
        for (Tensor t : m.asMap().values()) {
            for (float v : t.toFloatArray()) {
                out[j++] = v;
            }
        }
        return out;
    }

    private static double maxAbs(TensorMap m) {
        double x = 0;
        for (double v : flat(m)) {
            x = Math.max(x, Math.abs(v));
        }
        return x;
    }

    private static double max(double[] a, int from, int to) {
        double m = 0;
        for (int i = from; i < to; i++) {
            m = Math.max(m, a[i]);
        }
        return m;
    }

    /**
     * EF: the error is the residual, which stays bounded: for top-k by about g/fraction (a value waits
     * at most about 1/fraction steps to be sent), for the quantizers by a fraction of g. The last third
     * of the run is no worse than the middle third (it does not grow with t).
     */
    @ParameterizedTest
    @MethodSource("lossy")
    void efKeepsTheSumOfMessagesNearTheSumOfUpdates(String spec) throws CodecException {
        Codec c = Codec.parse(spec);
        double g = maxAbs(constantUpdate());
        double[] ef = drift(c, Variant.EF, true);
        double[] plain = drift(c, Variant.EF, false);
        double bound = spec.startsWith("topk") ? 2 * g / fraction(spec) : g;
        double late = max(ef, 2 * STEPS / 3, STEPS);
        assertTrue(late <= bound, spec + ": EF error " + late + " > bound " + bound);
        assertTrue(late <= 1.5 * max(ef, STEPS / 3, 2 * STEPS / 3) + 1e-9, spec + ": EF error grows");
        assertTrue(plain[STEPS - 1] > 1.5 * plain[STEPS / 2 - 1], spec + ": without EF the error grows with t");
        assertTrue(plain[STEPS - 1] > 3 * late, spec + ": EF " + late + " is not well below plain " + plain[STEPS - 1]);
        if (spec.startsWith("topk") && fraction(spec) < 1) {
            assertTrue(plain[STEPS - 1] > 0.1 * STEPS * g, spec + ": plain top-k drifts by a share of t·g");
        }
    }

    /** EF21: the applied estimate converges to g, so the summed error stops growing. */
    @ParameterizedTest
    @MethodSource("lossy")
    void ef21EstimateConvergesToTheUpdate(String spec) throws CodecException {
        Codec c = Codec.parse(spec);
        double g = maxAbs(constantUpdate());
        double[] ef21 = drift(c, Variant.EF21, true);
        double late = max(ef21, 2 * STEPS / 3, STEPS);
        double bound = spec.startsWith("topk") ? 4 * g / (fraction(spec) * fraction(spec)) : 2 * g;
        assertTrue(late <= bound, spec + ": EF21 error " + late + " > bound " + bound);
        assertTrue(late <= 1.5 * max(ef21, STEPS / 3, 2 * STEPS / 3) + 1e-9, spec + ": EF21 error grows");
    }

    private static double fraction(String spec) {
        return Double.parseDouble(spec.split("\\+")[0].split("=")[1]);
    }

    @Test
    void residualPersistsAcrossUpdatesAndResetDropsItWithOneLine() throws CodecException {
        Codec c = Codec.parse("topk:fraction=0.1");
        TensorMap g = constantUpdate();
        try (ErrorFeedback ef = ErrorFeedback.of(c)) {
            assertEquals(0, ef.stateNorm());
            ef.encode(g);
            ef.encode(g);
            double norm = ef.stateNorm();
            assertTrue(norm > 0, "what top-k dropped is kept");
            assertEquals(2, ef.steps());
            String line = ef.reset("base jumped from v3 to v9");
            assertEquals(-1, line.indexOf('\n'));
            assertTrue(line.startsWith("error feedback EF around topk:fraction=0.1 reset (base jumped from v3 to v9): "
                    + "dropped a residual of L2 norm "), line);
            assertTrue(line.endsWith(" over 2 tensors after 2 steps"), line);
            assertEquals(0, ef.stateNorm());
            assertEquals(0, ef.steps());
            // After a reset the first message is plain compression again.
            byte[] first = ef.encode(g);
            assertEquals(java.util.HexFormat.of().formatHex(c.encode(g)), java.util.HexFormat.of().formatHex(first));
        }
    }

    @Test
    void aChangedLayoutNeedsAReset() {
        try (ErrorFeedback ef = ErrorFeedback.of(Codec.parse("int8"))) {
            ef.encode(constantUpdate());
            TensorMap other = new TensorMap().put("w", Tensor.ofFloats(new long[] {3}, 1, 2, 3));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ef.encode(other));
            assertTrue(e.getMessage().contains("call reset first"), e.getMessage());
            ef.reset("new model");
            ef.encode(other);
        }
    }

    @Test
    void closedFeedbackRefusesWork() {
        ErrorFeedback ef = ErrorFeedback.of(Codec.parse("int4"), Variant.EF21);
        ef.close();
        assertThrows(IllegalStateException.class, () -> ef.encode(constantUpdate()));
    }

    /**
     * A prepared message leaves the state alone until it is committed, and then advances it exactly as
     * {@link ErrorFeedback#encode} does; the sender's digest of h is the receiver's after the same messages.
     */
    @ParameterizedTest
    @MethodSource("lossy")
    void aPreparedMessageAdvancesTheStateOnlyWhenCommittedAndExactlyAsEncode(String spec) throws CodecException {
        Codec codec = Codec.parse(spec);
        for (Variant variant : Variant.values()) {
            try (ErrorFeedback direct = ErrorFeedback.of(codec, variant); ErrorFeedback staged = ErrorFeedback.of(codec, variant);
                    Ef21Receiver receiver = new Ef21Receiver()) {
                assertEquals(0, staged.stateSha256().length, "h = 0 has the empty digest");
                for (int t = 0; t < 4; t++) {
                    TensorMap g = new TensorMap().put("w", Samples.gaussian(new SplittableRandom(t), new long[] {10, 15}, 0.01));
                    byte[] before = staged.stateSha256();
                    ErrorFeedback.Pending dropped = staged.prepare(g);
                    dropped.drop();
                    assertTrue(java.util.Arrays.equals(before, staged.stateSha256()), "a dropped message changes nothing");
                    assertTrue(!dropped.commit(), "a dropped message commits nothing");
                    ErrorFeedback.Pending p = staged.prepare(g);
                    ErrorFeedback.Pending rival = staged.prepare(g);
                    byte[] sent = direct.encode(g);
                    assertTrue(java.util.Arrays.equals(sent, p.bytes()), variant + " " + spec + ": same message as encode");
                    assertTrue(p.commit());
                    assertTrue(!rival.commit(), "a message prepared from the old state commits nothing after another did");
                    assertEquals(direct.stateNorm(), staged.stateNorm(), 0.0);
                    if (variant == Variant.EF21) {
                        TensorMap decoded = codec.decode(sent, g.infos(), DecodeLimits.forLayout(g.infos()));
                        receiver.accept(decoded);
                        assertTrue(java.util.Arrays.equals(receiver.estimateSha256(), staged.stateSha256()),
                                "the receiver holds the sender's h bit for bit");
                    }
                }
                ErrorFeedback.Pending late = staged.prepare(new TensorMap().put("w", Samples.gaussian(new SplittableRandom(9),
                        new long[] {10, 15}, 0.01)));
                staged.reset("test");
                assertTrue(!late.commit(), "a message prepared before a reset commits nothing");
                assertEquals(0, staged.stateSha256().length);
            }
        }
    }
}

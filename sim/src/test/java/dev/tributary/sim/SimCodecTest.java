package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.codec.Codec;
import dev.tributary.codec.CodecException;
import dev.tributary.codec.DecodeLimits;
import dev.tributary.codec.ErrorFeedback;
import dev.tributary.store.SafetensorsBytes;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import dev.tributary.train.Tasks;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The {@code codec:}, {@code error_feedback:} and {@code delta_pulls:} keys of simulate configs. */
class SimCodecTest {

    private static TensorMap model() {
        return Tasks.byName("synthetic-logreg").initialModel(0);
    }

    private static long modelBytes() {
        return SafetensorsBytes.encodedSize(model(), Map.of());
    }

    /** The size of one coded push of the whole model, by encoding zeros of its layout with the codec alone. */
    private static long codedSize(String spec, List<TensorInfo> layout) {
        TensorMap zeros = new TensorMap();
        for (TensorInfo i : layout) {
            zeros.put(i.name(), Tensor.ofFloats(i.shape(), new float[(int) i.numel()]));
        }
        return Codec.parse(spec).encode(zeros).length;
    }

    private static Map<String, Object> fedbuff(int clients, double budget) {
        return Configs.synthetic(clients, Map.of("name", "fedbuff", "buffer_size", 2), budget);
    }

    @ParameterizedTest
    @ValueSource(strings = {"int4:group=8", "fp4", "topk:fraction=0.25+int8:group=4", "bf16"})
    void bytesUpIsTheSumOfTheEncodedPushes(String spec) {
        int n = 4;
        Map<String, Object> m = Configs.with(Configs.with(fedbuff(n, 60), "codec", spec), "error_feedback", true);
        Simulation.Result r = Simulation.run(Configs.parse(m), null);
        SimReport rep = r.report();
        long each = codedSize(spec, model().infos());
        assertTrue(r.pushed() > 10, "pushes " + r.pushed());
        assertEquals(r.pushed() * each, rep.bytesUp(), spec + ": every push is one coded model");
        assertEquals((r.pushed() + n) * modelBytes(), rep.bytesDown(), "pulls stay full models");
        SimReport.Compression c = rep.compression();
        assertEquals(Codec.parse(spec).spec(), c.codec());
        assertEquals("ef", c.errorFeedback());
        assertEquals("full", c.pulls());
        assertEquals(r.pushed() * modelBytes(), c.decodedBytesUp(), "decoded: an f32 image per push");
        assertEquals((double) c.decodedBytesUp() / rep.bytesUp(), c.compressionUp(), 1e-12);
        assertEquals(rep.bytesDown(), c.fullBytesDown());
        assertEquals(0, c.errorFeedbackResets(), "no push lost or refused");
        assertEquals(rep.curve().size(), c.traffic().size(), "traffic at every evaluation");
        assertEquals(new SimReport.Traffic(rep.virtualSeconds(), rep.bytesUp(), rep.bytesDown()), c.traffic().getLast());
        for (int k = 1; k < c.traffic().size(); k++) {
            assertTrue(c.traffic().get(k).bytesUp() >= c.traffic().get(k - 1).bytesUp(), "bytes so far never go down");
        }
        assertTrue(r.refused().isEmpty(), "refused " + r.refused());
        assertTrue(rep.finalAccuracy() > rep.curve().getFirst().accuracy() + 0.2, "no learning: " + rep.curve());
    }

    @Test
    void withoutTheKeysTheReportHasNoCompressionSection() {
        Simulation.Result r = Simulation.run(Configs.parse(fedbuff(3, 30)), null);
        assertNull(r.report().compression());
        assertTrue(!Reports.toJson(r.report()).contains("compression"), "no compression key in the JSON");
        assertEquals(r.pushed() * modelBytes(), r.report().bytesUp());
    }

    /** EF: each message is C(e + g) and the residual becomes e + g − C(e + g); a base jump drops it. */
    @Test
    void theResidualCarriesAcrossAClientsUpdatesAndIsDroppedWhenItsBaseJumps() throws CodecException {
        String spec = "int4:group=8";
        Codec codec = Codec.parse(spec);
        TensorMap model = model();
        ClientCodecs codecs = new ClientCodecs(new CodecSettings(spec, ErrorFeedback.Variant.EF, false), 2, model);
        List<String> names = model.names();
        SplittableRandom rnd = new SplittableRandom(3);
        TensorMap g1 = gaussian(model, rnd);
        TensorMap g2 = gaussian(model, rnd);
        TensorMap g3 = gaussian(model, rnd);

        ClientCodecs.Coded first = codecs.push(0, g1);
        float[] e = minus(flat(g1), flat(decode(codec, plain(codec, g1), model)));
        assertArrayEquals(flat(decode(codec, plain(codec, g1), model)), flat(imageOf(first, model)), 0f,
                "the first message is C(g1)");
        assertEquals(norm(e), codecs.stateNorm(0, names), 1e-6, "residual g1 - C(g1)");
        assertTrue(norm(e) > 0);
        assertEquals(0, codecs.stateNorm(1, names), "another client's state is its own");

        ClientCodecs.Coded second = codecs.push(0, g2);
        TensorMap withResidual = plus(g2, e, model);
        assertArrayEquals(flat(decode(codec, plain(codec, withResidual), model)), flat(imageOf(second, model)), 0f,
                "the second message is C(e + g2)");
        assertEquals(2, codecs.steps(0, names));

        codecs.baseJumped(0, "its update was refused");
        assertEquals(0, codecs.stateNorm(0, names));
        assertEquals(0, codecs.steps(0, names));
        ClientCodecs.Coded third = codecs.push(0, g3);
        assertArrayEquals(flat(decode(codec, plain(codec, g3), model)), flat(imageOf(third, model)), 0f,
                "after the reset the message is C(g3) again");
        assertEquals(1, codecs.summary(1, 1, 1).errorFeedbackResets());
        codecs.close();
    }

    @Test
    void ef21SendsTheChangeOfTheEstimateAndTheCoordinatorAppliesTheEstimate() throws CodecException {
        String spec = "int4:group=8";
        Codec codec = Codec.parse(spec);
        TensorMap model = model();
        ClientCodecs codecs = new ClientCodecs(new CodecSettings(spec, ErrorFeedback.Variant.EF21, false), 1, model);
        SplittableRandom rnd = new SplittableRandom(4);
        TensorMap g1 = gaussian(model, rnd);
        TensorMap g2 = gaussian(model, rnd);
        float[] h1 = flat(decode(codec, plain(codec, g1), model));
        assertArrayEquals(h1, flat(imageOf(codecs.push(0, g1), model)), 0f, "h1 = C(g1)");
        TensorMap diff = plus(g2, scaled(h1, -1), model);
        float[] h2 = plusArrays(h1, flat(decode(codec, plain(codec, diff), model)));
        assertArrayEquals(h2, flat(imageOf(codecs.push(0, g2), model)), 1e-7f, "h2 = h1 + C(g2 - h1)");
        codecs.close();
    }

    @Test
    void churnResetsTheStateOfClientsThatLostAnUpdate() {
        Map<String, Object> m = Configs.synthetic(3, Map.of("name", "fedasync"), 300);
        m = Configs.with(m, "speeds", Map.of("distribution", "constant", "median", 64));
        m = Configs.with(Configs.with(m, "codec", "int4:group=4"), "error_feedback", true);
        Simulation.Result steady = Simulation.run(Configs.parse(m), null);
        Simulation.Result churned = Simulation.run(Configs.parse(Configs.with(m, "churn",
                Map.of("mean_online_s", 2, "mean_offline_s", 1))), null);
        assertEquals(0, steady.report().compression().errorFeedbackResets());
        long resets = churned.report().compression().errorFeedbackResets();
        assertTrue(churned.lost() > 0, "nothing lost");
        assertTrue(resets > 0 && resets <= churned.lost(), "resets " + resets + ", lost " + churned.lost());
        assertEquals(churned.pushed() * codedSize("int4:group=4", model().infos()), churned.report().bytesUp(),
                "a lost update is never uploaded");
    }

    @Test
    void sameSeedGivesTheSameReportOnAnyNumberOfThreads() {
        Map<String, Object> m = Configs.with(Configs.synthetic(8, Map.of("name", "fedbuff"), 150), "network",
                Map.of("bandwidth_mbps", 1, "latency_ms", 20));
        m = Configs.with(Configs.with(Configs.with(m, "codec", "topk:fraction=0.5+int4:group=4"), "error_feedback", "ef21"),
                "delta_pulls", true);
        String[] reports = new String[2];
        for (int threads = 1; threads <= 2; threads++) {
            SimConfig c = Configs.parse(Configs.with(m, "threads", threads));
            Simulation.Result r = Simulation.run(c, new SimulationTest.Announced(Workload.of(c)), null);
            assertTrue(r.report().updates() > 30, "updates " + r.report().updates());
            reports[threads - 1] = Reports.toJson(r.report().withWallSeconds(0));
        }
        assertEquals(reports[0], reports[1]);
        SimConfig c = Configs.parse(m);
        assertEquals(reports[0], Reports.toJson(Simulation.run(c, null).report().withWallSeconds(0)), "again");
        assertNotEquals(reports[0], Reports.toJson(Simulation.run(c.withSeed(9), null).report().withWallSeconds(0)));
    }

    /** Delta pulls are lossless: the same training, fewer bytes down. */
    @Test
    void deltaPullsCostLessAndChangeNothingElse() {
        Map<String, Object> m = fedbuff(4, 60);
        Simulation.Result full = Simulation.run(Configs.parse(m), null);
        Simulation.Result delta = Simulation.run(Configs.parse(Configs.with(m, "delta_pulls", true)), null);
        // The same learning, point for point; only the bytes exchanged (the curve's third element) differ.
        assertEquals(full.report().curve().stream().map(p -> List.of(p.virtualSeconds(), p.accuracy())).toList(),
                delta.report().curve().stream().map(p -> List.of(p.virtualSeconds(), p.accuracy())).toList());
        assertTrue(delta.report().curve().getLast().bytes() < full.report().curve().getLast().bytes());
        assertEquals(full.report().bytesUp(), delta.report().bytesUp());
        SimReport.Compression c = delta.report().compression();
        assertEquals("delta", c.pulls());
        assertNull(c.codec());
        assertEquals(full.report().bytesDown(), c.fullBytesDown(), "what full pulls would have cost");
        assertTrue(delta.report().bytesDown() < full.report().bytesDown(), delta.report().bytesDown() + " bytes down");
        assertEquals((double) c.fullBytesDown() / delta.report().bytesDown(), c.compressionDown(), 1e-12);
    }

    /**
     * With {@code pull_codec} every pull costs the model's message in that codec, and clients train from
     * the decoded model: the learning differs from f32 pulls, but only by the pull's rounding.
     */
    @Test
    void pullCodecPullsCostTheCodedModelAndClientsTrainFromItsDecoding() {
        Map<String, Object> m = fedbuff(4, 60);
        Simulation.Result full = Simulation.run(Configs.parse(m), null);
        Simulation.Result lossy = Simulation.run(Configs.parse(Configs.with(Configs.with(m, "pull_codec", "int8"),
                "delta_pulls", true)), null);
        long each = codedSize("int8:group=64", model().infos());
        SimReport.Compression c = lossy.report().compression();
        assertEquals("int8:group=64", c.pulls());
        assertEquals(full.pushed(), lossy.pushed(), "no network: the same schedule");
        long pulls = lossy.report().bytesDown() / each;
        assertEquals(0, lossy.report().bytesDown() % each, "every pull is one coded model");
        assertTrue(pulls >= lossy.pushed() && pulls <= lossy.pushed() + 4, pulls + " pulls for " + lossy.pushed() + " pushes");
        assertEquals(full.report().bytesDown(), c.fullBytesDown(), "what f32 pulls would have cost");
        List<Double> a = full.report().curve().stream().map(SimReport.Point::accuracy).toList();
        List<Double> b = lossy.report().curve().stream().map(SimReport.Point::accuracy).toList();
        assertNotEquals(a, b, "clients trained from the decoded model");
        assertEquals(a.getLast(), b.getLast(), 0.05, "int8 pulls barely change the learning");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Configs.parse(Configs.with(m, "pull_codec", "topk")));
        assertEquals("test.yaml: pull_codec: topk:fraction=0.01: top-k would zero most weights; use a dense codec (bf16, int8, …)",
                e.getMessage());
    }

    /** DiLoCo pushes one fragment at a time, each coded through its own state: a push is one of the fragments' sizes. */
    @Test
    void streamingDiLoCoCodesEachFragmentsOuterGradient() {
        Map<String, Object> s = Map.of("name", "diloco", "inner_steps", 4, "fragments", 2,
                "inner_optimizer", Map.of("name", "sgd", "lr", 0.1));
        String spec = "int8:group=4";
        Map<String, Object> m = Configs.with(Configs.with(Configs.synthetic(3, s, 200), "codec", spec), "error_feedback", true);
        Simulation.Result r = Simulation.run(Configs.parse(m), null);
        // Fragments cut by elements (the default): each push holds its fragment's slices.
        List<TensorInfo> layout = model().infos();
        List<List<dev.tributary.tensor.Fragments.Slice>> f = dev.tributary.tensor.Fragments.byElements(layout, 2);
        long s0 = codedSize(spec, dev.tributary.tensor.Fragments.layout(layout, f.get(0)));
        long s1 = codedSize(spec, dev.tributary.tensor.Fragments.layout(layout, f.get(1)));
        assertTrue(s0 != s1, "the fragments code to different sizes: " + s0);
        long pushes = r.pushed();
        long bytes = r.report().bytesUp();
        assertTrue(pushes > 10, "pushes " + pushes);
        // bytes = a·s0 + b·s1 with a + b = pushes: a whole number of each fragment's pushes, about half each.
        long a = (bytes - pushes * s1) / (s0 - s1);
        assertEquals(bytes, a * s0 + (pushes - a) * s1, "every push is one fragment, coded");
        assertTrue(Math.abs(a - pushes / 2.0) <= 2, a + " of " + pushes + " pushes were fragment 0");
        assertTrue(r.refused().isEmpty(), "refused " + r.refused());
        assertTrue(r.report().finalAccuracy() > 0.7, "accuracy " + r.report().finalAccuracy());
    }

    @ParameterizedTest
    @ValueSource(strings = {"fedavg", "fedasync", "fedbuff", "diloco"})
    void everyStrategyLearnsThroughACodecWithErrorFeedback(String strategy) {
        Map<String, Object> s = strategy.equals("diloco")
                ? Map.of("name", "diloco", "inner_steps", 5, "inner_optimizer", Map.of("name", "sgd", "lr", 0.1))
                : Map.of("name", strategy);
        Map<String, Object> m = Configs.with(Configs.with(Configs.synthetic(4, s, 200), "codec", "fp4:group=8"),
                "error_feedback", true);
        Simulation.Result r = Simulation.run(Configs.parse(m), null);
        assertTrue(r.refused().isEmpty(), strategy + " refused " + r.refused());
        assertTrue(r.report().compression().compressionUp() > 1, strategy + " ratio " + r.report().compression());
        assertTrue(r.report().finalAccuracy() > 0.7, strategy + " accuracy " + r.report().finalAccuracy());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "codec|int3|test.yaml: codec: unknown codec \"int3\" in \"int3\" (valid: f16, bf16, int8, int4, fp4, fp8, topk, lossless)",
            "codec|int4:group=0|test.yaml: codec: int4: group=0 must be an integer in [1, 16777216]",
            "codec|topk:fraction=2+int8|test.yaml: codec: topk: fraction=2 must be a number in (0, 1]",
            "error_feedback|maybe|test.yaml: error_feedback: must be true (EF), ef21 or false, got \"maybe\"",
            "delta_pulls|yes please|test.yaml: delta_pulls: must be true or false, got yes please"})
    void badSettingsAreOneLineNamingThem(String key, String value, String message) {
        Map<String, Object> m = Configs.with(fedbuff(2, 10), key, value);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Configs.parse(m));
        assertEquals(message, e.getMessage());
        assertEquals(-1, e.getMessage().indexOf('\n'));
    }

    @Test
    void errorFeedbackNeedsALossyCodec() {
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> Configs.parse(Configs.with(fedbuff(2, 10), "error_feedback", true)));
        assertEquals("test.yaml: error_feedback: needs a codec to feed back into (set codec:, e.g. int4:group=64)",
                none.getMessage());
        IllegalArgumentException lossless = assertThrows(IllegalArgumentException.class, () -> Configs.parse(
                Configs.with(Configs.with(fedbuff(2, 10), "codec", "lossless"), "error_feedback", "ef21")));
        assertTrue(lossless.getMessage().contains("lossless:level=3 is lossless"), lossless.getMessage());
        assertEquals(CodecSettings.NONE, Configs.parse(Configs.with(fedbuff(2, 10), "error_feedback", false)).codecs());
    }

    /** The compressed examples are the async one with only the codec (and its error feedback) changed. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {"fmnist-async-int4.yaml|int4:group=256", "fmnist-async-topk.yaml|topk:fraction=0.01+int8:group=64"})
    void theCompressedExamplesChangeOnlyTheCodec(String file, String codec) throws Exception {
        SimConfig async = SimConfig.load(SimConfigTest.EXAMPLES.resolve("fmnist-async.yaml"));
        SimConfig coded = SimConfig.load(SimConfigTest.EXAMPLES.resolve(file));
        assertEquals(new CodecSettings(codec, ErrorFeedback.Variant.EF, false), coded.codecs());
        assertEquals(CodecSettings.NONE, async.codecs());
        SimConfig same = new SimConfig(async.source(), coded.task(), coded.data(), coded.clients(), coded.seed(),
                coded.partition(), coded.speeds(), coded.network(), coded.churn(), coded.concurrency(), coded.strategy(),
                coded.strategyConfig(), coded.validation(), coded.local(), coded.budget(), coded.target(),
                coded.evalEvery(), coded.tickEvery(), coded.threads(), CodecSettings.NONE);
        assertEquals(async, same);
    }

    // --- helpers: plain codec arithmetic on the test side, independent of ClientCodecs ---

    private static TensorMap gaussian(TensorMap like, SplittableRandom r) {
        TensorMap m = new TensorMap();
        for (TensorInfo i : like.infos()) {
            float[] v = new float[(int) i.numel()];
            for (int k = 0; k < v.length; k++) {
                v[k] = (float) (r.nextGaussian() * 0.1);
            }
            m.put(i.name(), Tensor.ofFloats(i.shape(), v));
        }
        return m;
    }

    private static byte[] plain(Codec c, TensorMap m) {
        return c.encode(m);
    }

    private static TensorMap decode(Codec c, byte[] bytes, TensorMap like) throws CodecException {
        return c.decode(bytes, like.infos(), DecodeLimits.forLayout(like.infos()));
    }

    private static TensorMap imageOf(ClientCodecs.Coded coded, TensorMap like) {
        return dev.tributary.store.ModelImage.tensors(coded.image(), "delta");
    }

    private static float[] flat(TensorMap m) {
        int n = 0;
        for (Tensor t : m.asMap().values()) {
            n += (int) t.numel();
        }
        float[] out = new float[n];
        int at = 0;
        for (Tensor t : m.asMap().values()) {
            float[] v = t.toFloatArray();
            System.arraycopy(v, 0, out, at, v.length);
            at += v.length;
        }
        return out;
    }

    private static float[] minus(float[] a, float[] b) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i] - b[i];
        }
        return out;
    }

    private static float[] plusArrays(float[] a, float[] b) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i] + b[i];
        }
        return out;
    }

    private static float[] scaled(float[] a, float s) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = a[i] * s;
        }
        return out;
    }

    /** {@code g} plus the flat values {@code e}, in {@code like}'s layout. */
    private static TensorMap plus(TensorMap g, float[] e, TensorMap like) {
        TensorMap out = new TensorMap();
        int at = 0;
        for (TensorInfo i : like.infos()) {
            float[] v = g.tensor(i.name()).toFloatArray();
            for (int k = 0; k < v.length; k++) {
                v[k] += e[at++];
            }
            out.put(i.name(), Tensor.ofFloats(i.shape(), v));
        }
        return out;
    }

    private static double norm(float[] a) {
        double s = 0;
        for (float v : a) {
            s += (double) v * v;
        }
        return Math.sqrt(s);
    }
}

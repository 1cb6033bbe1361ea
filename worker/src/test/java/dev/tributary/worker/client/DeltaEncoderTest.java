package dev.tributary.worker.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tributary.codec.Codec;
import dev.tributary.codec.DecodeLimits;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorMap;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DeltaEncoderTest {
    @TempDir
    Path dir;

    final List<String> log = new ArrayList<>();

    static TensorMap delta(long seed) {
        Random r = new Random(seed);
        float[] w = new float[256];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian() * 0.01f;
        }
        return new TensorMap().put("w", Tensor.ofFloats(new long[] {16, 16}, w));
    }

    DeltaEncoder encoder(String codec, boolean ef, int stride) {
        return new DeltaEncoder(new WireOptions(codec == null ? null : Codec.parse(codec), ef, 4, true), stride, log::add);
    }

    float[] decode(Path file, Codec c) throws Exception {
        TensorMap d = c.decode(Files.readAllBytes(file), delta(0).infos(), DecodeLimits.forLayout(delta(0).infos()));
        return d.tensor("w").toFloatArray();
    }

    @Test
    void withoutACodecTheUpdateIsASafetensorsFile() throws Exception {
        try (DeltaEncoder e = encoder(null, false, 1)) {
            DeltaEncoder.Encoded out = e.encode(0, 3, delta(1), dir.resolve("d"));
            assertEquals("safetensors", out.codec());
            assertEquals(delta(1).tensor("w").toFloatArray()[7], Safetensors.readAll(out.file()).tensor("w").toFloatArray()[7]);
        }
    }

    @Test
    void theResidualCarriesWhatTheCodecDroppedSoTheSumOfMessagesTracksTheSumOfUpdates() throws Exception {
        Codec c = Codec.parse("int4:group=64");
        try (DeltaEncoder ef = encoder("int4:group=64", true, 1); DeltaEncoder plain = encoder("int4:group=64", false, 1)) {
            float[] sum = new float[256];
            float[] sent = new float[256];
            float[] sentPlain = new float[256];
            for (int i = 0; i < 20; i++) {
                TensorMap d = delta(100 + i);
                float[] v = d.tensor("w").toFloatArray();
                float[] a = decode(ef.encode(0, i, d, dir.resolve("ef-" + i)).file(), c);
                float[] b = decode(plain.encode(0, i, d, dir.resolve("p-" + i)).file(), c);
                for (int k = 0; k < 256; k++) {
                    sum[k] += v[k];
                    sent[k] += a[k];
                    sentPlain[k] += b[k];
                }
            }
            assertEquals(20, ef.residualSteps(0));
            // EF: sum of updates = sum of messages + residual, exactly up to float rounding.
            double gap = 0;
            double gapPlain = 0;
            for (int k = 0; k < 256; k++) {
                gap += (sum[k] - sent[k]) * (sum[k] - sent[k]);
                gapPlain += (sum[k] - sentPlain[k]) * (sum[k] - sentPlain[k]);
            }
            assertEquals(ef.residualNorm(0), Math.sqrt(gap), 1e-4);
            assertTrue(Math.sqrt(gap) < 0.5 * Math.sqrt(gapPlain), "EF gap " + Math.sqrt(gap) + ", without " + Math.sqrt(gapPlain));
            assertTrue(log.isEmpty(), log.toString());
        }
    }

    @Test
    void theResidualIsResetWithALogLineWhenTheBaseGoesBackJumpsFarOrAnUpdateIsRefused() throws Exception {
        try (DeltaEncoder e = encoder("int4:group=16", true, 1)) {
            e.encode(0, 5, delta(1), dir.resolve("a"));
            e.encode(0, 5, delta(6), dir.resolve("a2"));  // the same base (FedBuff between publishes): carried
            e.encode(0, 9, delta(2), dir.resolve("b"));   // 4 ahead: within --ef-max-jump 4, carried
            assertEquals(3, e.residualSteps(0));
            assertTrue(log.isEmpty(), log.toString());
            e.encode(0, 14, delta(3), dir.resolve("c"));  // 5 ahead: reset
            assertEquals(1, e.residualSteps(0));
            assertEquals(1, log.size());
            assertTrue(log.getFirst().contains("reset (base jumped from v9 to v14)"), log.getFirst());
            e.encode(0, 12, delta(4), dir.resolve("d"));  // went back: reset
            assertEquals(2, log.size());
            assertTrue(log.get(1).contains("base jumped from v14 to v12"), log.get(1));
            e.encode(0, 13, delta(5), dir.resolve("e"));
            assertEquals(2, e.residualSteps(0));
            e.refused(0, "FAILED_PRECONDITION: staleness");
            assertEquals(3, log.size());
            assertTrue(log.get(2).contains("update refused: FAILED_PRECONDITION: staleness"), log.get(2));
            assertEquals(0, e.residualSteps(0));
            assertEquals(0, e.residualNorm(0), 0.0);
        }
    }

    @Test
    void fragmentsKeepTheirOwnResidualsAtTheirOwnCadence() throws Exception {
        try (DeltaEncoder e = encoder("int8:group=32", true, 3)) {
            // Three fragments, each pushed every third version: a jump of 3 per push is the normal pace.
            for (long v = 0; v < 12; v++) {
                e.encode((int) (v % 3), v, delta(v), dir.resolve("f" + v));
            }
            assertTrue(log.isEmpty(), log.toString());
            assertEquals(4, e.residualSteps(0));
            assertEquals(4, e.residualSteps(2));
            e.encode(1, 13 + 12, delta(99), dir.resolve("late"));
            assertEquals(1, log.size());
            assertTrue(log.getFirst().contains("for fragment 1"), log.getFirst());
            assertEquals(4, e.residualSteps(0));
        }
    }

    /**
     * EF21: the digest of h named with each message is what h was before it; h takes a message in only once it
     * is acknowledged, and a refused estimate codes the same update again from h = 0, with one log line.
     */
    @Test
    void ef21AdvancesTheEstimateOnlyOnTheAckAndRecodesFromZeroWhenTheEstimateIsRefused() throws Exception {
        Codec c = Codec.parse("int4:group=64");
        WireOptions options = new WireOptions(c, true, 4, true).withEf21();
        try (DeltaEncoder e = new DeltaEncoder(options, 1, log::add)) {
            DeltaEncoder.Encoded first = e.encode(0, 0, delta(1), dir.resolve("a"));
            assertEquals("ef21", first.feedback());
            assertEquals(0, first.estimateSha256().length, "h = 0 before the first message");
            // Not acknowledged (say the push failed for good): the next message is still coded against h = 0.
            DeltaEncoder.Encoded again = e.encode(0, 0, delta(1), dir.resolve("b"));
            assertEquals(0, again.estimateSha256().length);
            assertTrue(java.util.Arrays.equals(Files.readAllBytes(first.file()), Files.readAllBytes(again.file())));
            e.acked(0);
            dev.tributary.codec.Ef21Receiver receiver = new dev.tributary.codec.Ef21Receiver();
            receiver.accept(c.decode(Files.readAllBytes(again.file()), delta(0).infos(), DecodeLimits.forLayout(delta(0).infos())));
            DeltaEncoder.Encoded second = e.encode(0, 1, delta(2), dir.resolve("c"));
            assertTrue(java.util.Arrays.equals(receiver.estimateSha256(), second.estimateSha256()), "h after the acked message");
            float[] fromH = decode(second.file(), c);
            DeltaEncoder.Encoded recoded = e.estimateRefused(0, second.file(), "restarted");
            assertEquals(0, recoded.estimateSha256().length);
            assertEquals(1, log.size(), log.toString());
            assertTrue(log.getFirst().contains("EF21") && log.getFirst().contains("from h = 0"), log.getFirst());
            // From h = 0 the message is C(g) itself.
            float[] fromZero = decode(recoded.file(), c);
            float[] plain = c.decode(c.encode(delta(2)), delta(0).infos(), DecodeLimits.forLayout(delta(0).infos()))
                    .tensor("w").toFloatArray();
            assertTrue(java.util.Arrays.equals(plain, fromZero));
            assertTrue(!java.util.Arrays.equals(fromH, fromZero));
            receiver.close();
        }
    }
}

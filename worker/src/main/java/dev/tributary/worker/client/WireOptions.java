package dev.tributary.worker.client;

import dev.tributary.codec.Codec;
import dev.tributary.codec.ErrorFeedback;

/**
 * How a worker's updates and models travel.
 *
 * @param codec         the codec pushes are encoded with; null for plain safetensors
 * @param errorFeedback whether a lossy codec's error is fed back (EF: what the codec dropped is added to the
 *                      next update; see {@link DeltaEncoder} for when that residual is reset)
 * @param efMaxJump     the residual is kept while the next update's base is at most this many pushes
 *                      (of the same tensors) ahead of the last one's
 * @param pullDeltas    whether pulls ask for only what changed since the version held
 * @param pullCodec     the lossy codec pulls ask for the model in (the worker then trains from the decoded
 *                      model and pushes its delta against it); null for f32 pulls
 * @param ef21          with {@code errorFeedback}: EF21 instead of EF (the message is the change of an estimate h
 *                      that the coordinator keeps too; see {@link DeltaEncoder})
 */
public record WireOptions(Codec codec, boolean errorFeedback, int efMaxJump, boolean pullDeltas, Codec pullCodec,
        boolean ef21) {
    /** The default bound on how far the base may move with a residual still carried. */
    public static final int DEFAULT_EF_MAX_JUMP = 4;

    /** Plain safetensors pushes, version-delta pulls. */
    public static final WireOptions DEFAULTS = new WireOptions(null, false, DEFAULT_EF_MAX_JUMP, true, null);

    public WireOptions withPullCodec(Codec c) {
        return new WireOptions(codec, errorFeedback, efMaxJump, pullDeltas, c, ef21);
    }

    /** Error feedback EF21 around the codec. */
    public WireOptions withEf21() {
        return new WireOptions(codec, true, efMaxJump, pullDeltas, pullCodec, true);
    }

    /** The error feedback variant, or null for none. */
    public ErrorFeedback.Variant feedback() {
        return !errorFeedback ? null : ef21 ? ErrorFeedback.Variant.EF21 : ErrorFeedback.Variant.EF;
    }

    /** EF or no error feedback. */
    public WireOptions(Codec codec, boolean errorFeedback, int efMaxJump, boolean pullDeltas, Codec pullCodec) {
        this(codec, errorFeedback, efMaxJump, pullDeltas, pullCodec, false);
    }

    /** f32 pulls. */
    public WireOptions(Codec codec, boolean errorFeedback, int efMaxJump, boolean pullDeltas) {
        this(codec, errorFeedback, efMaxJump, pullDeltas, null, false);
    }

    public WireOptions {
        if (pullCodec != null && pullCodec.spec().startsWith("topk")) {
            throw new IllegalArgumentException("pull codec " + pullCodec.spec() + ": top-k would zero most weights;"
                    + " pull with a dense codec (bf16, f16, int8, fp8, int4, fp4, lossless)");
        }
        if (efMaxJump < 1) {
            throw new IllegalArgumentException("ef max jump < 1: " + efMaxJump);
        }
        if (ef21 && !errorFeedback) {
            throw new IllegalArgumentException("ef21 is an error feedback variant: set errorFeedback too");
        }
        if (errorFeedback && (codec == null || codec.isLossless())) {
            throw new IllegalArgumentException("error feedback needs a lossy codec, not "
                    + (codec == null ? "safetensors" : codec.spec()));
        }
    }
}

package dev.tributary.sim;

import dev.tributary.codec.Codec;
import dev.tributary.codec.ErrorFeedback;

/**
 * How clients compress what they send and how they pull, from the keys {@code codec} (a spec as
 * {@code tributary work --codec} takes it, {@link Codec#parse}: {@code int4:group=64},
 * {@code topk:fraction=0.01+int8}, {@code fp4}, …), {@code error_feedback} ({@code true} or {@code ef}
 * for EF, {@code ef21}, {@code false}) and {@code delta_pulls} ({@code true}: a client that holds a
 * version pulls only the lossless {@code VersionDelta} from it to the current one) and {@code pull_codec}
 * (a dense lossy spec, e.g. {@code int8}: every pull is the model coded by it, the client trains from the
 * decoded weights and its delta is against them; takes precedence over delta pulls, as on the wire).
 *
 * @param codec      the push codec's canonical spec; null to push plain f32 safetensors
 * @param feedback   the error-feedback rule around the codec; null for none
 * @param deltaPulls whether pulls after the first are version deltas
 * @param pullCodec  the pull codec's canonical spec; null for f32 pulls
 */
public record CodecSettings(String codec, ErrorFeedback.Variant feedback, boolean deltaPulls, String pullCodec) {
    /** Plain f32 pushes, full pulls: the configuration without any of the keys. */
    public static final CodecSettings NONE = new CodecSettings(null, null, false, null);

    public CodecSettings(String codec, ErrorFeedback.Variant feedback, boolean deltaPulls) {
        this(codec, feedback, deltaPulls, null);
    }

    public CodecSettings {
        if (feedback != null && codec == null) {
            throw new IllegalArgumentException("error feedback needs a codec");
        }
    }

    /** Whether pushes are coded. */
    public boolean coded() {
        return codec != null;
    }

    /** Reads the keys from the top level of a simulate configuration. */
    static CodecSettings parse(Section root) {
        String codec = null;
        if (root.has("codec")) {
            String spec = root.text("codec", null);
            try {
                codec = Codec.parse(spec).spec();
            } catch (IllegalArgumentException e) {
                throw root.error("codec", e.getMessage());
            }
        }
        root.raw("codec");
        ErrorFeedback.Variant feedback = null;
        Object ef = root.raw("error_feedback");
        if (ef != null) {
            String v = String.valueOf(ef).strip().toLowerCase(java.util.Locale.ROOT);
            feedback = switch (v) {
                case "true", "ef" -> ErrorFeedback.Variant.EF;
                case "ef21" -> ErrorFeedback.Variant.EF21;
                case "false" -> null;
                default -> throw root.error("error_feedback", "must be true (EF), ef21 or false, got \"" + ef + "\"");
            };
            if (feedback != null && codec == null) {
                throw root.error("error_feedback", "needs a codec to feed back into (set codec:, e.g. int4:group=64)");
            }
            if (feedback != null && Codec.parse(codec).isLossless()) {
                throw root.error("error_feedback", codec + " is lossless: there is no error to feed back");
            }
        }
        boolean deltaPulls = false;
        Object d = root.raw("delta_pulls");
        if (d != null) {
            if (!(d instanceof Boolean b)) {
                throw root.error("delta_pulls", "must be true or false, got " + d);
            }
            deltaPulls = b;
        }
        String pullCodec = null;
        if (root.has("pull_codec")) {
            String spec = root.text("pull_codec", null);
            try {
                pullCodec = Codec.parse(spec).spec();
            } catch (IllegalArgumentException e) {
                throw root.error("pull_codec", e.getMessage());
            }
            if (pullCodec.startsWith("topk")) {
                throw root.error("pull_codec", pullCodec + ": top-k would zero most weights; use a dense codec (bf16, int8, …)");
            }
        }
        root.raw("pull_codec");
        return new CodecSettings(codec, feedback, deltaPulls, pullCodec);
    }
}

package dev.tributary.codec;

import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Turns an update (a map of f32 tensors) into bytes for the wire and back. A message is self-describing
 * and versioned: its header names the codec and its parameters (the canonical {@link #spec()}) and every
 * tensor's name and shape, in the model's order; then one payload per tensor; then a CRC32C.
 *
 * <p>Codecs are made from specs of the form {@code NAME[:k=v,…][+NAME…]} by {@link #parse}:
 * <ul>
 *   <li>{@code f16}, {@code bf16}: each value rounded to nearest even; f16 saturates at ±65504;
 *   <li>{@code int8:group=G}, {@code int4:group=G}: per group of G consecutive values (row-major, the last
 *       group shorter) an f32 scale {@code max|x|/127} (or {@code /7}) and codes {@code rint(x/scale)};
 *       int4 packs two codes per byte, the first in the low nibble;
 *   <li>{@code fp4:group=G} (default 32): FP4 E2M1 per group of G values with an f32 scale
 *       {@code max|x|/6}, each value rounded to the nearest of ±{0, 0.5, 1, 1.5, 2, 3, 4, 6} (ties to the
 *       even code), packed two per byte like int4;
 *   <li>{@code fp8}: per row (the last dimension; a tensor of rank 0 or 1 is one row) an f32 scale
 *       mapping the row's max |x| to 448, values rounded to nearest FP8 E4M3;
 *   <li>{@code topk:fraction=F}: the {@code ceil(F·numel)} values of largest magnitude (ties: lowest
 *       index first), as ascending u32 indices and f32 values; {@code topk:fraction=F+int8} (or
 *       {@code +int4}, {@code +bf16}, {@code +f16}, {@code +fp8}) sends the kept values in that codec;
 *   <li>{@code CODEC+lossless[:level=L]} after any lossy codec (e.g. {@code int4+lossless},
 *       {@code topk:fraction=0.01+int8+lossless}): the lossy codec's payload, scales apart from codes and
 *       top-k indices as gaps, byte-grouped and compressed with zstd; decodes to exactly the lossy codec's values;
 *   <li>{@code lossless:level=L}: byte-grouped floats (each f32 split into four byte planes, each plane
 *       compressed apart with zstd at level L), bit-exact for any bit pattern, NaN payloads included.
 * </ul>
 * Lossy codecs accept finite values only (a NaN would poison a whole group's scale) and throw
 * {@link IllegalArgumentException} otherwise; the lossless codec round-trips every bit pattern.
 *
 * <p>Decoding is bounded: the caller passes the layout it expects and {@link DecodeLimits}; every declared
 * count and size is checked against both before anything large is allocated, and anything else is
 * refused with a {@link CodecException} whose {@link CodecException#reason() reason} says why. Decoded
 * values are not checked for finiteness here: validation of the decoded update does that.
 *
 * <p>Codecs are immutable and thread-safe. Error feedback for the lossy ones is in {@link ErrorFeedback}.
 */
public sealed interface Codec permits TensorCodec {

    /** Parses a codec spec such as {@code int4:group=64} or {@code topk:fraction=0.01+int8}. */
    static Codec parse(String spec) {
        return CodecSpec.parse(spec);
    }

    /** The codec names {@link #parse} accepts. */
    static List<String> names() {
        return CodecSpec.NAMES;
    }

    /**
     * The spec named in an encoded message's header, after checking only its magic and format version;
     * for choosing the decoder (and refusing codecs a receiver does not accept) before decoding.
     */
    static String specOf(byte[] bytes) throws CodecException {
        return Format.peekSpec(Format.CODEC_MAGIC, MemorySegment.ofArray(bytes));
    }

    /**
     * The layout a message declares (names, shapes, in order; dtypes F32), after checking its size,
     * checksum and header against {@code limits}: for a receiver that does not know the layout in
     * advance (a worker's first lossy pull), to pass to {@link #decode}.
     */
    static List<TensorInfo> layoutOf(MemorySegment bytes, DecodeLimits limits) throws CodecException {
        List<TensorInfo> out = new java.util.ArrayList<>();
        for (Format.Entry e : Format.read(Format.CODEC_MAGIC, bytes, null, limits, dev.tributary.tensor.DType.F32).entries()) {
            out.add(e.info());
        }
        return List.copyOf(out);
    }

    /** The canonical spec, with every parameter spelled out: {@code parse(spec()).spec().equals(spec())}. */
    String spec();

    /** True when decoding gives back exactly the bits that were encoded. */
    boolean isLossless();

    /** True when a message's size depends on the layout only, not on the values. */
    boolean hasFixedSize();

    /**
     * Encodes every tensor of {@code delta}, in its order. Tensors must be f32; for lossy codecs, finite.
     *
     * @throws IllegalArgumentException naming the tensor that is not f32 or not finite, or when the
     *                                  message would pass 2 GiB
     */
    byte[] encode(TensorMap delta);

    /**
     * Decodes a message into f32 tensors allocated in {@code arena}, exactly the names and shapes of
     * {@code layout} in its order (the layout's dtypes are ignored).
     *
     * @throws CodecException when the bytes are not a well-formed message of this codec for this layout
     *                        within the limits
     */
    TensorMap decode(MemorySegment bytes, List<TensorInfo> layout, DecodeLimits limits, Arena arena) throws CodecException;

    /**
     * Decodes a message into existing f32 tensors, e.g. buffers reused across updates: the layout is
     * {@code into}'s (names, shapes, order), every value is overwritten. After a refusal the tensors'
     * contents are unspecified (the header is checked before any is written, a payload may fail later).
     *
     * @throws IllegalArgumentException when a tensor of {@code into} is not F32
     */
    void decodeInto(MemorySegment bytes, TensorMap into, DecodeLimits limits) throws CodecException;

    /** {@link #decode(MemorySegment, List, DecodeLimits, Arena)} into automatically managed memory. */
    default TensorMap decode(byte[] bytes, List<TensorInfo> layout, DecodeLimits limits) throws CodecException {
        return decode(MemorySegment.ofArray(bytes), layout, limits, Arena.ofAuto());
    }
}

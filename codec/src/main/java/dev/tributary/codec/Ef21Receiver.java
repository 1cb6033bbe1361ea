package dev.tributary.codec;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Kernels;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The receiving side of {@link ErrorFeedback.Variant#EF21} for one sender: keeps the sender's estimate h
 * and adds each decoded message to it; h is what the receiver applies. Reset it when the sender resets.
 * Not thread-safe; {@link #close} frees its memory.
 */
public final class Ef21Receiver implements AutoCloseable {
    private Arena arena;
    private TensorMap estimate;

    /** Adds a decoded message to the estimate and returns the estimate (owned by this receiver: copy to keep). */
    public TensorMap accept(TensorMap decoded) {
        if (estimate == null) {
            arena = Arena.ofShared();
            estimate = new TensorMap();
            for (TensorInfo i : decoded.infos()) {
                estimate.put(i.name(), Tensor.allocate(DType.F32, i.shape(), arena));
            }
        } else if (!decoded.infos().equals(estimate.infos())) {
            throw new IllegalArgumentException("message layout differs from the estimate's; reset first");
        }
        for (TensorInfo i : decoded.infos()) {
            Kernels.axpy(1f, decoded.tensor(i.name()).data(), estimate.tensor(i.name()).data(), i.numel());
        }
        return estimate;
    }

    /** SHA-256 of the estimate's values (see {@link ErrorFeedback#stateSha256}); empty while there is none (h = 0). */
    public byte[] estimateSha256() {
        return estimate == null ? new byte[0] : sha256(estimate);
    }

    /** Bytes the estimate holds (0 while there is none). */
    public long estimateBytes() {
        long n = 0;
        if (estimate != null) {
            for (TensorInfo i : estimate.infos()) {
                n += i.byteSize();
            }
        }
        return n;
    }

    /** SHA-256 over the tensors' data in order (f32 values, little-endian): what both sides of EF21 compare. */
    static byte[] sha256(TensorMap tensors) {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        for (TensorInfo i : tensors.infos()) {
            MemorySegment data = tensors.tensor(i.name()).data();
            for (long off = 0; off < data.byteSize(); off += 1L << 30) {
                md.update(data.asSlice(off, Math.min(1L << 30, data.byteSize() - off)).asByteBuffer());
            }
        }
        return md.digest();
    }

    /** Drops the estimate, as the sender did. */
    public void reset() {
        close();
    }

    @Override
    public void close() {
        if (arena != null) {
            arena.close();
        }
        arena = null;
        estimate = null;
    }
}

package dev.tributary.codec;

import dev.tributary.tensor.DType;
import dev.tributary.tensor.Kernels;
import dev.tributary.tensor.Tensor;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorMap;
import java.lang.foreign.Arena;

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

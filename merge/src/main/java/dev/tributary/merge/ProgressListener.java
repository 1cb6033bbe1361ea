package dev.tributary.merge;

/**
 * Told after each tensor a long-running merge, LoRA merge or extraction has finished, so that a caller
 * can draw a progress bar. Methods that read the model twice (krum) count every tensor twice in
 * {@code total}. Called on the thread doing the work; keep it cheap.
 */
@FunctionalInterface
public interface ProgressListener {
    /** A listener that ignores progress. */
    ProgressListener NONE = (done, total, name) -> {};

    /**
     * @param done  tensors finished so far, 1 to {@code total}
     * @param total tensors to process in all
     * @param name  the tensor just finished
     */
    void onTensor(int done, int total, String name);
}

package dev.tributary.rl.policy;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;

/**
 * DJL's PyTorch engine, loaded once and offline (the native library comes from the
 * {@code pytorch-native-cpu} jar), and PyTorch's per-thread autograd switch.
 */
final class Torch {
    private static final Engine ENGINE = load();

    private Torch() {}

    static Engine engine() {
        return ENGINE;
    }

    /** Switches autograd recording for the calling thread and returns the previous setting. */
    static boolean gradMode(boolean on) {
        boolean before = JniUtils.isGradMode();
        if (before != on) {
            JniUtils.setGradMode(on);
        }
        return before;
    }

    private static Engine load() {
        System.setProperty("ai.djl.offline", "true");
        // One intra-op thread unless told otherwise: these policies are small, and a second OpenMP thread
        // waits at every barrier for a core it may not get.
        if (System.getProperty("ai.djl.pytorch.num_threads") == null) {
            System.setProperty("ai.djl.pytorch.num_threads", "1");
        }
        if (System.getProperty("ai.djl.pytorch.num_interop_threads") == null) {
            System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        }
        try {
            return Engine.getEngine("PyTorch");
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            throw new IllegalStateException("PyTorch engine did not load offline: " + e.getMessage(), e);
        }
    }
}

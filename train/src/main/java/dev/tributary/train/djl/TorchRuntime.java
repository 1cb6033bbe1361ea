package dev.tributary.train.djl;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import java.nio.ByteOrder;

/**
 * Loads DJL's PyTorch engine once, offline: the native library comes from the
 * {@code pytorch-native-cpu} jar on the class path, so nothing is downloaded at run time.
 *
 * <p>Threads: {@code ai.djl.pytorch.num_threads} (intra-op) defaults to the number of processors and
 * {@code ai.djl.pytorch.num_interop_threads} to 1; set either property before the first use to override.
 */
final class TorchRuntime {
    static final String ENGINE = "PyTorch";

    private static volatile Engine engine;

    private TorchRuntime() {}

    /** The PyTorch engine, loaded on first use. */
    static Engine engine() {
        Engine e = engine;
        if (e == null) {
            synchronized (TorchRuntime.class) {
                e = engine;
                if (e == null) {
                    e = load();
                    engine = e;
                }
            }
        }
        return e;
    }

    /**
     * Switches autograd recording for the calling thread (PyTorch keeps this flag per thread).
     *
     * @return the previous setting
     */
    static boolean gradMode(boolean on) {
        boolean before = JniUtils.isGradMode();
        if (before != on) {
            JniUtils.setGradMode(on);
        }
        return before;
    }

    private static Engine load() {
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new IllegalStateException("native byte order " + ByteOrder.nativeOrder()
                    + " != LITTLE_ENDIAN: tensors cannot cross to PyTorch as whole buffers");
        }
        System.setProperty("ai.djl.offline", "true");
        setIfAbsent("ai.djl.pytorch.num_threads", Integer.toString(Runtime.getRuntime().availableProcessors()));
        setIfAbsent("ai.djl.pytorch.num_interop_threads", "1");
        try {
            return Engine.getEngine(ENGINE);
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            throw new IllegalStateException("PyTorch engine did not load offline from the pytorch-native-cpu jar: "
                    + e.getMessage(), e);
        }
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }
}

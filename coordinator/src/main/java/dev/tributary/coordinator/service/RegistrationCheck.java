package dev.tributary.coordinator.service;

import com.google.protobuf.ByteString;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.protocol.Capabilities;
import dev.tributary.protocol.RegisterRequest;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * Bounds on what a registration may carry, since the registry holds it for the whole lease: every
 * string's size in UTF-8 bytes, the number of codecs and labels, and numbers that make sense. A request
 * over a bound is refused with INVALID_ARGUMENT naming the field.
 */
final class RegistrationCheck {
    static final int MAX_NAME_BYTES = 256;
    static final int MAX_DEVICE_KIND_BYTES = 64;
    static final int MAX_CODECS = 16;
    static final int MAX_CODEC_BYTES = 64;
    static final int MAX_LABELS = 32;
    static final int MAX_LABEL_KEY_BYTES = 128;
    static final int MAX_LABEL_VALUE_BYTES = 1024;

    private RegistrationCheck() {}

    /** @throws Refusal INVALID_ARGUMENT, reason {@code registration}, naming the field and the bound */
    static void check(RegisterRequest req) {
        bytes("name", req.getNameBytes(), MAX_NAME_BYTES);
        Capabilities c = req.getCapabilities();
        bytes("capabilities.device_kind", c.getDeviceKindBytes(), MAX_DEVICE_KIND_BYTES);
        if (c.getCores() < 0) {
            throw refuse("capabilities.cores " + c.getCores() + ": must be ≥ 0");
        }
        if (c.getMemoryBytes() < 0) {
            throw refuse("capabilities.memory_bytes " + c.getMemoryBytes() + ": must be ≥ 0");
        }
        if (!(c.getStepsPerSecond() >= 0) || Double.isInfinite(c.getStepsPerSecond())) {
            throw refuse("capabilities.steps_per_second " + c.getStepsPerSecond() + ": must be a finite number ≥ 0");
        }
        count("capabilities.codecs", c.getCodecsCount(), MAX_CODECS);
        for (int i = 0; i < c.getCodecsCount(); i++) {
            bytes("capabilities.codecs[" + i + "]", c.getCodecsBytes(i), MAX_CODEC_BYTES);
        }
        count("capabilities.labels", c.getLabelsCount(), MAX_LABELS);
        for (Map.Entry<String, String> e : c.getLabelsMap().entrySet()) {
            String key = e.getKey();
            if (utf8(key) > MAX_LABEL_KEY_BYTES) {
                throw refuse("capabilities.labels key of " + utf8(key) + " bytes > " + MAX_LABEL_KEY_BYTES);
            }
            if (utf8(e.getValue()) > MAX_LABEL_VALUE_BYTES) {
                throw refuse("capabilities.labels[" + key + "] of " + utf8(e.getValue()) + " bytes > " + MAX_LABEL_VALUE_BYTES);
            }
        }
    }

    private static void bytes(String field, ByteString value, int max) {
        if (value.size() > max) {
            throw refuse(field + " of " + value.size() + " bytes > " + max);
        }
    }

    private static void count(String field, int n, int max) {
        if (n > max) {
            throw refuse(field + ": " + n + " entries > " + max);
        }
    }

    /** UTF-8 bytes of {@code s}, or its length in chars when that alone is over every bound. */
    private static long utf8(String s) {
        return s.length() > MAX_LABEL_VALUE_BYTES ? s.length() : s.getBytes(StandardCharsets.UTF_8).length;
    }

    private static Refusal refuse(String message) {
        return Refusal.invalid("registration", message);
    }
}

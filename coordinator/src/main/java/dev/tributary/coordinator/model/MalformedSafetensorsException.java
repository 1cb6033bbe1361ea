package dev.tributary.coordinator.model;

/** Bytes that are not a well-formed safetensors image; the message names the rule and the tensor. */
public final class MalformedSafetensorsException extends IllegalArgumentException {
    public MalformedSafetensorsException(String message) {
        super(message);
    }
}

package dev.tributary.replay;

import java.lang.foreign.MemorySegment;

/**
 * An item as {@link Table#sample} hands it out.
 *
 * @param payload the bytes inserted, read-only; valid for as long as it is referenced
 * @param sequence the item's position in the order of inserts, counting from 0
 */
public record Item(String id, long policyVersion, MemorySegment payload, double priority, long sequence) {}

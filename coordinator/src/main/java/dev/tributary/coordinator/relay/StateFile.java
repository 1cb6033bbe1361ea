package dev.tributary.coordinator.relay;

import dev.tributary.coordinator.service.ChunkAssembler;
import dev.tributary.coordinator.strategy.NoLoCoRelay;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.OuterStateHeader;
import dev.tributary.tensor.InvalidCheckpointException;
import dev.tributary.tensor.SafetensorsFile;
import dev.tributary.tensor.TensorMap;
import io.grpc.Status;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * One outer state being received: a part file of the announced size (φ's bytes, then δ's), mapped, filled
 * chunk by chunk by the shared {@link ChunkAssembler} (order, bounds, CRC32C), then checked as a whole
 * (SHA-256 of each image, safetensors, the model's tensors, finite) and forced to disk. The memory it takes
 * is the page cache's, not the heap's, so a state of hundreds of MiB costs no more heap than a small one.
 */
final class StateFile {
    private final Path path;
    private final Arena arena;
    private final MemorySegment bytes;
    private final ChunkAssembler assembler;
    private boolean mapped = true;

    private StateFile(Path path, Arena arena, MemorySegment bytes) {
        this.path = path;
        this.arena = arena;
        this.bytes = bytes;
        this.assembler = new ChunkAssembler(bytes, "outer_bytes + outer_gradient_bytes");
    }

    /** A new part file of {@code size} bytes (sizes already checked). */
    static StateFile create(Path path, long size) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(1), size - 1);
            return new StateFile(path, arena, ch.map(FileChannel.MapMode.READ_WRITE, 0, size, arena));
        } catch (IOException | RuntimeException e) {
            arena.close();
            Files.deleteIfExists(path);
            throw e;
        }
    }

    Path path() {
        return path;
    }

    /** Copies {@code c} into place; returns its size. */
    int append(Chunk c) {
        return assembler.append(c);
    }

    /**
     * Checks the whole state against its header and the model, forces it to disk and unmaps it.
     *
     * @throws Refusal naming the image and the rule
     */
    void check(OuterStateHeader h, NoLoCoRelay relay) {
        assembler.checkComplete();
        MemorySegment outer = bytes.asSlice(0, h.getOuterBytes());
        MemorySegment gradient = bytes.asSlice(h.getOuterBytes(), h.getOuterGradientBytes());
        sha("outer", outer, h.getOuterSha256().toByteArray());
        sha("outer_gradient", gradient, h.getOuterGradientSha256().toByteArray());
        fits("outer", outer, relay);
        fits("outer_gradient", gradient, relay);
        bytes.force();
        unmap();
    }

    private static void sha(String what, MemorySegment image, byte[] expected) {
        if (!Arrays.equals(dev.tributary.store.ModelImage.sha256(image), expected)) {
            throw new Refusal(Status.Code.DATA_LOSS, "sha256", what + ": SHA-256 of the received bytes does not match the header's: send again");
        }
    }

    private static void fits(String what, MemorySegment image, NoLoCoRelay relay) {
        try {
            SafetensorsFile f = SafetensorsFile.of(image, what);
            TensorMap m = new TensorMap();
            for (String n : f.names()) {
                m.put(n, f.tensor(n));
            }
            relay.checkState(what, m);
        } catch (InvalidCheckpointException e) {
            throw Refusal.invalid("malformed", e.getMessage());
        } catch (IllegalArgumentException e) {
            throw Refusal.invalid("state", e.getMessage());
        }
    }

    private void unmap() {
        if (mapped) {
            mapped = false;
            arena.close();
        }
    }

    /** Unmaps and removes the part file (nothing of it was answered). */
    void discard() {
        unmap();
        try {
            Files.deleteIfExists(path);
        } catch (IOException ignored) {
            // a part file left behind is removed at the next start
        }
    }
}

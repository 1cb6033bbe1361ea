package dev.tributary.coordinator.service;

import com.google.protobuf.ByteString;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.protocol.Chunk;
import io.grpc.Status;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * Puts a pushed byte stream together, chunk by chunk, in a segment of the size its header announced: each
 * chunk must start where the previous one ended, stay within the size and match its CRC32C, else the push is
 * refused ({@code malformed}, {@code size}, {@code crc}). Shared by every service that receives chunked
 * pushes (updates, experience). One stream, one thread at a time.
 */
public final class ChunkAssembler {
    private final MemorySegment target;
    private final String sizeField;
    private final CRC32C crc = new CRC32C();
    private long received;

    /** @param sizeField the header field that announced the size, for messages ({@code delta_bytes}) */
    public ChunkAssembler(MemorySegment target, String sizeField) {
        this.target = target;
        this.sizeField = sizeField;
    }

    /**
     * Copies {@code c} into place and checks it.
     *
     * @return the chunk's size in bytes
     * @throws Refusal when the chunk is out of order, runs past the size or fails its CRC32C
     */
    public int append(Chunk c) {
        ByteString data = c.getData();
        if (c.getOffset() != received) {
            throw Refusal.invalid("malformed", "chunk at offset " + c.getOffset() + ": expected offset " + received);
        }
        if (data.size() > target.byteSize() - received) {
            throw Refusal.tooLarge("size", "chunk at offset " + c.getOffset() + " of " + data.size()
                    + " bytes runs past " + sizeField + " " + target.byteSize());
        }
        // Copied first, then checked where it landed: CRC32C runs fastest over native memory.
        ByteBuffer landed = target.asSlice(received, data.size()).asByteBuffer();
        data.copyTo(landed);
        crc.reset();
        crc.update(landed.flip());
        if ((int) crc.getValue() != c.getCrc32C()) {
            throw new Refusal(Status.Code.DATA_LOSS, "crc", "chunk at offset " + c.getOffset() + ": CRC32C mismatch");
        }
        received += data.size();
        return data.size();
    }

    /** Bytes received so far. */
    public long received() {
        return received;
    }

    /** Refuses a stream that ended before the announced size. */
    public void checkComplete() {
        if (received != target.byteSize()) {
            throw Refusal.invalid("malformed", "received " + received + " of " + sizeField + " " + target.byteSize());
        }
    }
}

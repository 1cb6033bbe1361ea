package dev.tributary.coordinator.service;

import com.google.protobuf.ByteString;
import dev.tributary.store.ModelImage;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.CoordinatorGrpc;
import dev.tributary.protocol.ModelHeader;
import dev.tributary.protocol.ModelPart;
import dev.tributary.protocol.PullRequest;
import dev.tributary.protocol.PushAck;
import dev.tributary.protocol.UpdateHeader;
import dev.tributary.protocol.UpdatePart;
import dev.tributary.tensor.Safetensors;
import dev.tributary.tensor.TensorMap;
import io.grpc.Channel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Iterator;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/** A bare-bones client for the service tests: raw protocol, no retries. */
final class TestClient {
    final CoordinatorGrpc.CoordinatorBlockingStub blocking;
    final CoordinatorGrpc.CoordinatorStub async;

    TestClient(Channel channel, String token) {
        Metadata md = new Metadata();
        if (token != null) {
            md.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + token);
        }
        blocking = CoordinatorGrpc.newBlockingStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md))
                .withMaxInboundMessageSize(8 << 20);
        async = CoordinatorGrpc.newStub(channel).withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
    }

    record Pulled(ModelHeader header, MemorySegment bytes) {
        TensorMap tensors() {
            return ModelImage.tensors(bytes, "pulled model");
        }
    }

    Pulled pull(long known) {
        return pull(known, false);
    }

    /** A pull; with {@code acceptDelta} the bytes may be a version delta (see the header). */
    Pulled pull(long known, boolean acceptDelta) {
        return pull(PullRequest.newBuilder().setKnownVersion(known).setAcceptVersionDelta(acceptDelta).build());
    }

    /** A fragment pull (Streaming DiLoCo): the bytes may be only the fragment's values (see the header). */
    Pulled pullFragment(long known, int fragment) {
        return pull(PullRequest.newBuilder().setKnownVersion(known).setFragmentPull(true).setFragment(fragment).build());
    }

    /** Any pull; the bytes are what the header says they are (model, version delta, coded model or fragment). */
    Pulled pull(PullRequest request) {
        Iterator<ModelPart> it = blocking.pullModel(request);
        ModelHeader h = it.next().getHeader();
        MemorySegment bytes = Arena.ofAuto().allocate(h.getUnchanged() ? 0 : h.getFragmentPull() ? h.getFragmentBytes()
                : h.getVersionDelta() ? h.getDeltaBytes() : !h.getCodec().isEmpty() ? h.getCodedBytes() : h.getTotalBytes());
        long at = 0;
        while (it.hasNext()) {
            Chunk c = it.next().getChunk();
            if (c.getOffset() != at || ModelImage.crc32c(MemorySegment.ofArray(c.getData().toByteArray())) != c.getCrc32C()) {
                throw new AssertionError("bad chunk at " + c.getOffset());
            }
            MemorySegment.copy(c.getData().toByteArray(), 0, bytes, ValueLayout.JAVA_BYTE, at, c.getData().size());
            at += c.getData().size();
        }
        return new Pulled(h, bytes);
    }

    static UpdateHeader.Builder header(String id, long base, long bytes) {
        return UpdateHeader.newBuilder().setUpdateId(id).setWorkerId("w").setBaseVersion(base).setExamples(10)
                .setLocalSteps(1).putMetrics("loss", 0.5).setDeltaBytes(bytes);
    }

    PushAck push(TensorMap delta, long base) {
        return push(UUID.randomUUID().toString(), delta, base);
    }

    PushAck push(String id, TensorMap delta, long base) {
        MemorySegment img = Safetensors.encode(delta, Map.of(), Arena.ofAuto());
        return push(header(id, base, img.byteSize()).build(), img, 7, false);
    }

    /** Pushes raw parts: {@code img} cut into chunks of {@code chunk} bytes; {@code badCrc} spoils the last one. */
    PushAck push(UpdateHeader h, MemorySegment img, int chunk, boolean badCrc) {
        PushAnswer answer = new PushAnswer();
        CompletableFuture<PushAck> result = answer.result;
        StreamObserver<UpdatePart> req = async.pushUpdate(answer);
        req.onNext(UpdatePart.newBuilder().setHeader(h).build());
        for (long at = 0; at < img.byteSize(); at += chunk) {
            byte[] data = img.asSlice(at, Math.min(chunk, img.byteSize() - at)).toArray(ValueLayout.JAVA_BYTE);
            int crc = ModelImage.crc32c(MemorySegment.ofArray(data));
            if (badCrc && at + chunk >= img.byteSize()) {
                crc ^= 1;
            }
            req.onNext(UpdatePart.newBuilder().setChunk(Chunk.newBuilder().setOffset(at)
                    .setData(ByteString.copyFrom(data)).setCrc32C(crc)).build());
        }
        req.onCompleted();
        try {
            return result.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof StatusRuntimeException s) {
                throw s;
            }
            throw e;
        }
    }
}

package dev.tributary.worker.client;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.UnsafeByteOperations;
import dev.tributary.protocol.CoordinatorGrpc;
import dev.tributary.protocol.ModelPart;
import dev.tributary.protocol.PullRequest;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.Context;
import io.grpc.Detachable;
import io.grpc.HasByteBuffer;
import io.grpc.KnownLength;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.ProtoUtils;
import io.grpc.stub.ClientCalls;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

/**
 * One PullModel answer, read without copying chunk data out of the transport's buffers. The usual
 * protobuf parse copies each chunk twice (the transport's buffers into an array, the array into the
 * message's bytes); here the message is parsed over the transport's own buffers, which the chunk's
 * {@code data} then aliases, and those buffers stay held until the message is {@linkplain Received#close
 * closed}. A header is copied out and released at once (its digests outlive the stream). Where the
 * transport cannot lend its buffers (the in-process transport of tests) messages are parsed the usual way
 * and hold nothing.
 *
 * <p>Memory: the blocking call buffers at most one message ahead, so at most one message beyond those the
 * caller holds is ever retained. {@link #close} cancels a call that has not finished and releases whatever it
 * had buffered.
 *
 * <p>As an {@link Iterator}, each {@link #next} releases the previous message: its parts are valid until
 * the next call. {@link #take} hands the caller a message to close itself.
 */
final class ModelStream implements Iterator<ModelPart>, AutoCloseable {
    /** A message and the transport buffers its bytes alias (null when it holds none). */
    record Received(ModelPart part, InputStream held) implements AutoCloseable {
        @Override
        public void close() {
            if (held != null) {
                closeQuietly(held);
            }
        }
    }

    private static final MethodDescriptor.Marshaller<ModelPart> USUAL = ProtoUtils.marshaller(ModelPart.getDefaultInstance());
    private static final MethodDescriptor<PullRequest, Received> PULL = CoordinatorGrpc.getPullModelMethod()
            .toBuilder(ProtoUtils.marshaller(PullRequest.getDefaultInstance()), new Lending()).build();

    private final Context.CancellableContext context;
    private final Iterator<Received> answers;
    private Received last;
    private boolean closed;

    private ModelStream(Context.CancellableContext context, Iterator<Received> answers) {
        this.context = context;
        this.answers = answers;
    }

    /** Starts the call. */
    static ModelStream open(Channel channel, CallOptions options, PullRequest request) {
        Context.CancellableContext context = Context.current().withCancellation();
        Context previous = context.attach();
        try {
            return new ModelStream(context, ClientCalls.blockingServerStreamingCall(channel, PULL, options, request));
        } finally {
            context.detach(previous);
        }
    }

    @Override
    public boolean hasNext() {
        release();
        return answers.hasNext();
    }

    /** The next message's part, valid until the next call on this stream. */
    @Override
    public ModelPart next() {
        release();
        last = answers.next();
        return last.part();
    }

    /** The next message, for the caller to close once it is done with the message's bytes. */
    Received take() {
        release();
        return answers.next(); // NoSuchElementException past the end, as any iterator
    }

    /** Cancels the call if it has not finished and releases every message it still held. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        release();
        context.cancel(null);
        try {
            while (answers.hasNext()) {
                answers.next().close();
            }
        } catch (StatusRuntimeException e) {
            // CANCELLED, as asked: whatever was buffered before it has been released above.
        } finally {
            context.close();
        }
    }

    private void release() {
        if (last != null) {
            last.close();
            last = null;
        }
    }

    /** Parses over the transport's buffers where it lends them (see the class comment). */
    private static final class Lending implements MethodDescriptor.Marshaller<Received> {
        @Override
        public InputStream stream(Received value) {
            return USUAL.stream(value.part());
        }

        @Override
        public Received parse(InputStream stream) {
            if (!(stream instanceof Detachable d && stream instanceof HasByteBuffer b && b.byteBufferSupported()
                    && stream instanceof KnownLength)) {
                return new Received(USUAL.parse(stream), null);
            }
            InputStream held = d.detach();
            try {
                int size = held.available();
                // Marked, the buffers read past are kept (not released) until the stream is closed.
                held.mark(size);
                List<ByteString> pieces = new ArrayList<>();
                while (held.available() > 0) {
                    ByteBuffer piece = ((HasByteBuffer) held).getByteBuffer();
                    if (piece == null || !piece.hasRemaining()) {
                        break;
                    }
                    pieces.add(UnsafeByteOperations.unsafeWrap(piece));
                    held.skip(piece.remaining());
                }
                CodedInputStream in = ByteString.copyFrom(pieces).newCodedInput(); // a rope over the pieces: no copy
                in.enableAliasing(true);
                in.setSizeLimit(Integer.MAX_VALUE);
                ModelPart part = ModelPart.parseFrom(in);
                if (!part.hasChunk()) {
                    // Headers and anything else are small and outlive the stream: copy them out.
                    Received copied = new Received(ModelPart.parseFrom(part.toByteArray()), null);
                    held.close();
                    return copied;
                }
                return new Received(part, held);
            } catch (IOException | RuntimeException e) {
                closeQuietly(held);
                String why = e instanceof InvalidProtocolBufferException ? "invalid model stream message: " + e.getMessage()
                        : "reading a model stream message: " + e;
                throw Status.INTERNAL.withDescription(why).withCause(e).asRuntimeException();
            }
        }
    }

    /** Closing a lent stream only gives its buffers back; there is nothing to do about a failure to. */
    private static void closeQuietly(InputStream held) {
        try {
            held.close();
        } catch (IOException e) {
            // nothing held is lost: the buffers' reference counts are the transport's to settle
        }
    }
}

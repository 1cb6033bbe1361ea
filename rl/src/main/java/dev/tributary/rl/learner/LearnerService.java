package dev.tributary.rl.learner;

import dev.tributary.coordinator.service.ChunkAssembler;
import dev.tributary.coordinator.service.ModelSender;
import dev.tributary.coordinator.validation.Refusal;
import dev.tributary.protocol.Chunk;
import dev.tributary.protocol.ExperienceAck;
import dev.tributary.protocol.ExperienceHeader;
import dev.tributary.protocol.ExperiencePart;
import dev.tributary.protocol.LearnerGrpc;
import dev.tributary.protocol.ModelPart;
import dev.tributary.protocol.PolicyRequest;
import dev.tributary.protocol.RegisterActorReply;
import dev.tributary.protocol.RegisterActorRequest;
import dev.tributary.replay.InsertRefusedException;
import dev.tributary.rl.env.Space;
import dev.tributary.rl.experience.Experience;
import dev.tributary.store.ModelImage;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/** The gRPC face of the learner: actor registration, policy pulls and experience pushes. */
final class LearnerService extends LearnerGrpc.LearnerImplBase {
    static final int MAX_NAME_CHARS = 256;
    /** Item ids remembered to acknowledge a repeated push as a duplicate before validating it again. */
    static final int RECENT_IDS = 100_000;
    /** The wait a busy answer asks for (gRPC's retry pushback): about one training step. */
    static final long BUSY_PUSHBACK_MILLIS = 100;

    private final String envId;
    private final Space observations;
    private final Space actions;
    private final LearnerConfig config;
    private final ExperienceValidator validator;
    private final ExperienceBuffer buffer;
    private final AtomicReference<ModelImage> published;
    private final Progress progress;
    private final LearnerMetrics metrics;
    private final ActorRegistry actors;
    private final long maxInflightBytes;
    private final AtomicLong inflightBytes = new AtomicLong();
    private final Set<String> recentIds = Collections.synchronizedSet(Collections.newSetFromMap(
            new LinkedHashMap<>(16, 0.75f, false) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, Boolean> eldest) {
                    return size() > RECENT_IDS;
                }
            }));

    LearnerService(String envId, Space observations, Space actions, LearnerConfig config, ExperienceBuffer buffer,
            AtomicReference<ModelImage> published, Progress progress, LearnerMetrics metrics, ActorRegistry actors) {
        this.envId = envId;
        this.observations = observations;
        this.actions = actions;
        this.config = config;
        this.validator = new ExperienceValidator(envId, observations, actions, config);
        this.buffer = buffer;
        this.published = published;
        this.progress = progress;
        this.metrics = metrics;
        this.actors = actors;
        this.maxInflightBytes = Math.max(4 * config.maxItemBytes(), 256L << 20);
    }

    private long version() {
        return published.get().version();
    }

    @Override
    public void registerActor(RegisterActorRequest req, StreamObserver<RegisterActorReply> out) {
        String problem = null;
        if (req.getName().length() > MAX_NAME_CHARS) {
            problem = "name of " + req.getName().length() + " characters > " + MAX_NAME_CHARS;
        } else if (req.getEnvId().length() > ExperienceValidator.MAX_ID_CHARS) {
            problem = "env_id of " + req.getEnvId().length() + " characters > " + ExperienceValidator.MAX_ID_CHARS;
        } else if (req.getEnvs() < 1 || req.getEnvs() > ExperienceValidator.MAX_ENVS) {
            problem = "envs " + req.getEnvs() + " outside [1, " + ExperienceValidator.MAX_ENVS + "]";
        }
        if (problem != null) {
            out.onError(Status.INVALID_ARGUMENT.withDescription(problem).asRuntimeException());
            return;
        }
        Space obs;
        Space act;
        try {
            obs = SpaceMessages.fromMessage(req.getObservationSpace());
            act = SpaceMessages.fromMessage(req.getActionSpace());
        } catch (IllegalArgumentException e) {
            out.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
            return;
        }
        if (!req.getEnvId().equals(envId) || !obs.equals(observations) || !act.equals(actions)) {
            out.onError(Status.FAILED_PRECONDITION.withDescription("this learner trains on " + envId + " (observations "
                    + observations + ", actions " + actions + "), not " + ExperienceValidator.abbreviate(req.getEnvId())
                    + " (observations " + obs + ", actions " + act + ")").asRuntimeException());
            return;
        }
        RegisterActorReply.Builder reply = RegisterActorReply.newBuilder()
                .setActorId(actors.register())
                .setVersion(version())
                .setAlgo(config.algo())
                .setStepsPerItem(config.stepsPerItem())
                .setMaxLag(config.maxLag())
                .setMaxItemBytes(config.maxItemBytes());
        for (int h : config.optimization().hidden()) {
            reply.addHidden(h);
        }
        out.onNext(reply.build());
        out.onCompleted();
    }

    @Override
    public void pullPolicy(PolicyRequest req, StreamObserver<ModelPart> out) {
        actors.touch(req.getActorId().length() <= ExperienceValidator.MAX_ID_CHARS ? req.getActorId() : "");
        ModelSender.serve(out, req.getKnownVersion(), CompletableFuture.completedFuture(published.get()),
                metrics::bytesOut);
    }

    @Override
    public StreamObserver<ExperiencePart> pushExperience(StreamObserver<ExperienceAck> out) {
        return new ItemReceiver(out);
    }

    /** Assembles one pushed item, checking each chunk as it arrives, and validates it whole before storing it. */
    private final class ItemReceiver implements StreamObserver<ExperiencePart> {
        private final StreamObserver<ExperienceAck> out;
        private ExperienceHeader header;
        private MemorySegment payload;
        private ChunkAssembler assembler;
        private long reserved;
        private boolean duplicate;
        private boolean finished;

        ItemReceiver(StreamObserver<ExperienceAck> out) {
            this.out = out;
        }

        @Override
        public void onNext(ExperiencePart part) {
            if (finished) {
                return;
            }
            try {
                if (part.hasHeader()) {
                    onHeader(part.getHeader());
                } else if (part.hasChunk()) {
                    onChunk(part.getChunk());
                } else {
                    throw Refusal.invalid("malformed", "empty experience part");
                }
            } catch (Refusal r) {
                refuse(r);
            }
        }

        private void onHeader(ExperienceHeader h) {
            if (header != null) {
                throw Refusal.invalid("malformed", "a second experience header");
            }
            // The buffer's index knows every id it ever took, also after a restart and however old the item:
            // a repeated push is acknowledged as a duplicate, not validated again (and refused for its lag).
            duplicate = recentIds.contains(h.getItemId()) || buffer.contains(h.getItemId());
            if (!duplicate) {
                validator.checkHeader(h, version());
                String why = buffer.whyNotInsert();
                if (why != null) {
                    throw busy(why);
                }
            } else if (h.getPayloadBytes() <= 0 || h.getPayloadBytes() > validator.maxItemBytes()) {
                throw Refusal.tooLarge("size", "payload_bytes " + h.getPayloadBytes() + " outside [1, "
                        + validator.maxItemBytes() + "]");
            }
            long size = h.getPayloadBytes();
            if (inflightBytes.addAndGet(size) > maxInflightBytes) {
                inflightBytes.addAndGet(-size);
                throw new Refusal(Status.Code.UNAVAILABLE, "busy", "busy: items in flight hold more than "
                        + maxInflightBytes + " bytes: retry soon");
            }
            reserved = size;
            header = h;
            payload = Arena.ofAuto().allocate(size, 64);
            assembler = new ChunkAssembler(payload, "payload_bytes");
        }

        private void onChunk(Chunk c) {
            if (header == null) {
                throw Refusal.invalid("malformed", "a chunk before the experience header");
            }
            metrics.bytesIn(assembler.append(c));
        }

        @Override
        public void onError(Throwable t) {
            finished = true;
            release();
        }

        @Override
        public void onCompleted() {
            if (finished) {
                return;
            }
            finished = true;
            try {
                if (header == null) {
                    throw Refusal.invalid("malformed", "no experience header");
                }
                assembler.checkComplete();
                ExperienceHeader h = header;
                if (duplicate) {
                    release();
                    metrics.duplicate();
                    ack(h, true, 0);
                    return;
                }
                long current = version();
                Experience x = validator.checkPayload(h, payload, current);
                long lag = current - x.minPolicyVersion();
                buffer.insert(h.getItemId(), x.minPolicyVersion(), payload, 1.0).whenComplete((fresh, error) -> {
                    release();
                    if (error != null) {
                        Throwable cause = error instanceof CompletionException && error.getCause() != null
                                ? error.getCause() : error;
                        if (cause instanceof InsertRefusedException) {
                            metrics.busy();
                            out.onError(busy(cause.getMessage()).toStatus());
                        } else {
                            metrics.storeFailed();
                            out.onError(Status.UNAVAILABLE.withDescription("item " + h.getItemId()
                                    + " could not be stored: " + cause.getMessage()).asRuntimeException());
                        }
                        return;
                    }
                    recentIds.add(h.getItemId());
                    actors.touch(h.getActorId());
                    if (fresh) {
                        progress.add(x.size(), episodeReturns(x));
                        metrics.accepted(x.size(), lag);
                    } else {
                        metrics.duplicate();
                    }
                    ack(h, !fresh, lag);
                });
            } catch (Refusal r) {
                refuse(r);
            }
        }

        private void ack(ExperienceHeader h, boolean dup, long lag) {
            out.onNext(ExperienceAck.newBuilder().setItemId(h.getItemId()).setDuplicate(dup).setVersion(version())
                    .setLag(lag).build());
            out.onCompleted();
        }

        private void refuse(Refusal r) {
            finished = true;
            release();
            if (r.code() == Status.Code.UNAVAILABLE) {
                metrics.busy();
            } else {
                metrics.refused(r.reason());
            }
            out.onError(r.toStatus());
        }

        private void release() {
            inflightBytes.addAndGet(-reserved);
            reserved = 0;
        }
    }

    /**
     * The answer when the buffer's rate limiter (or its bound) holds inserts back: UNAVAILABLE starting with
     * "busy", which actors take as "wait a little and push the same item again", counted apart from refusals.
     */
    private static Refusal busy(String why) {
        return Refusal.retryLater(Status.Code.UNAVAILABLE, "busy", "busy: " + why + ": retry soon", BUSY_PUSHBACK_MILLIS);
    }

    private static double[] episodeReturns(Experience x) {
        return java.util.stream.IntStream.range(0, x.size()).filter(x::done)
                .mapToDouble(i -> x.episodeReturns()[i]).toArray();
    }
}

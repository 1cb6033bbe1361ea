package dev.tributary.rl.learner;

import dev.tributary.coordinator.auth.Tokens;
import dev.tributary.rl.env.ClassicControl;
import dev.tributary.rl.env.Environment;
import dev.tributary.rl.experience.Experience;
import io.grpc.ManagedChannel;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** A learner on CartPole-v1 behind an in-process server, and experience to push to it. */
final class LearnerFixture implements AutoCloseable {
    static final String TOKEN = "learner-test-token";
    static final String ENV = "CartPole-v1";

    /** The buffer when it is a {@link MemoryBuffer}, else null. */
    final MemoryBuffer buffer;
    final List<String> warnings = new ArrayList<>();
    final Learner learner;
    final ManagedChannel channel;

    private LearnerFixture(ExperienceBuffer buffer, Learner learner, ManagedChannel channel) {
        this.buffer = buffer instanceof MemoryBuffer m ? m : null;
        this.learner = learner;
        this.channel = channel;
    }

    /** A learner over {@code buffer}; {@code direct} runs calls on the caller's thread. */
    static LearnerFixture start(LearnerConfig config, ExperienceBuffer buffer, boolean direct) throws IOException {
        String name = InProcessServerBuilder.generateName();
        Environment env = ClassicControl.cartPole();
        InProcessServerBuilder server = InProcessServerBuilder.forName(name);
        InProcessChannelBuilder client = InProcessChannelBuilder.forName(name);
        if (direct) {
            server.directExecutor();
            client.directExecutor();
        }
        List<String> warnings = new ArrayList<>();
        Learner learner = Learner.start(server, ENV, env.observationSpace(), env.actionSpace(), config, buffer,
                Tokens.of(List.of(TOKEN)), warnings::add);
        LearnerFixture f = new LearnerFixture(buffer, learner, client.build());
        f.warnings.addAll(warnings);
        return f;
    }

    /**
     * CartPole experience of {@code steps × envs} steps, all taken with policy {@code version}: upright
     * observations, alternating actions, reward 1, log μ = log ½, no episode ends.
     */
    static Experience cartPole(int steps, int envs, long version) {
        int n = steps * envs;
        float[] obs = new float[n * 4];
        for (int i = 0; i < obs.length; i++) {
            obs[i] = 0.01f * (i % 7);
        }
        float[] actions = new float[n];
        for (int i = 0; i < n; i++) {
            actions[i] = i % 2;
        }
        float[] rewards = new float[n];
        Arrays.fill(rewards, 1f);
        float[] logProbs = new float[n];
        Arrays.fill(logProbs, (float) Math.log(0.5));
        long[] versions = new long[n];
        Arrays.fill(versions, version);
        return new Experience(steps, envs, 4, 1, obs, obs.clone(), actions, rewards, new boolean[n], new boolean[n],
                logProbs, versions, new float[n]);
    }

    @Override
    public void close() {
        channel.shutdownNow();
        learner.close();
    }
}

package dev.tributary.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Watches a running learner for {@code demo --rl}: its /status (version, environment steps, episodes, mean
 * return) and /metrics (the lag of accepted items, bytes in and out), once a second; a progress line, a
 * curve of the mean return, and the decision to stop.
 */
final class RlDemoMonitor implements AutoCloseable {
    /** Episodes the learner's mean return is taken over: the target counts once the window is full. */
    static final int WINDOW = 100;
    /** Seconds the environment steps per second are measured over. */
    static final double RATE_WINDOW_SECONDS = 5;

    /**
     * How the run ended.
     *
     * @param stop why it stopped when the target was not reached ("time limit of 300 s", …), else null
     */
    record Outcome(boolean reached, String stop, double meanReturn, long episodes, long version, long envSteps,
                   double seconds, List<double[]> curve) {}

    /** What one look at the learner found. */
    record Sample(double seconds, long version, long envSteps, long trainSteps, long episodes, double meanReturn,
                  long accepted, long rejected, long busy, int actors, double lagMean, long bytesIn, long bytesOut) {

        /** A sample from the learner's /status JSON and its parsed /metrics, at {@code seconds}. */
        static Sample of(double seconds, JsonNode st, Map<String, Double> m) {
            JsonNode mean = st.path("mean_return");
            return new Sample(seconds, st.path("version").asLong(), st.path("env_steps").asLong(),
                    st.path("train_steps").asLong(), st.path("episodes").asLong(),
                    mean.isNumber() ? mean.asDouble() : Double.NaN, st.path("accepted").asLong(),
                    st.path("rejected").asLong(), st.path("busy").asLong(), st.path("actors").asInt(),
                    ratio(m.get("tributary_experience_lag_sum"), m.get("tributary_experience_lag_count")),
                    m.getOrDefault("tributary_experience_received_bytes_total", 0.0).longValue(),
                    m.getOrDefault("tributary_policy_sent_bytes_total", 0.0).longValue());
        }
    }

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final int httpPort;

    RlDemoMonitor(int httpPort) {
        this.httpPort = httpPort;
    }

    /** Waits until the learner answers on HTTP, failing early with its last words when its process died. */
    void awaitUp(Process learner, Path log, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            if (!learner.isAlive()) {
                throw new UserException("the learner exited with status " + learner.exitValue() + ": "
                        + DemoMonitor.lastError(log));
            }
            if (DemoMonitor.status(http, httpPort) != null) {
                return;
            }
            Thread.sleep(250);
        }
        throw new UserException("the learner did not answer on port " + httpPort + " within " + seconds + " s (log: " + log + ")");
    }

    /** One look at the learner, or null when it does not answer. */
    Sample sample(double seconds) {
        JsonNode st = DemoMonitor.status(http, httpPort);
        return st == null ? null : Sample.of(seconds, st, DemoMonitor.metrics(http, httpPort));
    }

    /**
     * Why to stop now, or null to go on: the target (mean return of a full window of {@value #WINDOW}
     * episodes at least {@code target}) is "reached"; otherwise the time or step cap.
     */
    static String stop(Sample s, double target, int maxSeconds, long maxSteps) {
        if (s.episodes() >= WINDOW && s.meanReturn() >= target) {
            return "reached";
        }
        if (s.seconds() >= maxSeconds) {
            return "time limit of " + maxSeconds + " s";
        }
        if (s.envSteps() >= maxSteps) {
            return "step limit of " + maxSteps + " environment steps";
        }
        return null;
    }

    /** The progress line of {@code now}; {@code stepsPerSecond} over the last few seconds. */
    static String line(Sample now, double stepsPerSecond) {
        return String.format(Locale.ROOT,
                "%6.1fs  version %4d  mean return %s (%d episodes)  env steps %d (%.0f/s)  train steps %d"
                        + "  staleness mean %.2f  bytes in %s out %s  actors %d  busy %d  refused %d",
                now.seconds(), now.version(), Double.isNaN(now.meanReturn()) ? "  –  " : String.format(Locale.ROOT, "%5.1f",
                        now.meanReturn()), now.episodes(), now.envSteps(), stepsPerSecond, now.trainSteps(), now.lagMean(),
                Human.bytes(now.bytesIn()), Human.bytes(now.bytesOut()), now.actors(), now.busy(), now.rejected());
    }

    /** Environment steps per second between the oldest and newest of {@code window}; 0 with fewer than two. */
    static double rate(ArrayDeque<Sample> window) {
        if (window.size() < 2 || window.getLast().seconds() <= window.getFirst().seconds()) {
            return 0;
        }
        return (window.getLast().envSteps() - window.getFirst().envSteps())
                / (window.getLast().seconds() - window.getFirst().seconds());
    }

    Outcome run(PrintWriter out, double target, int maxSeconds, long maxSteps, List<Process> processes, List<Path> logs)
            throws InterruptedException {
        long start = System.nanoTime();
        List<double[]> curve = new ArrayList<>();
        ArrayDeque<Sample> window = new ArrayDeque<>();
        boolean terminal = ProgressBar.isTerminal();
        double lastPrint = -RATE_WINDOW_SECONDS;
        Sample last = null;
        while (true) {
            Thread.sleep(1000);
            double seconds = (System.nanoTime() - start) / 1e9;
            for (int i = 0; i < processes.size(); i++) {
                Process p = processes.get(i);
                if (!p.isAlive()) {
                    throw new UserException((i == 0 ? "the learner" : "actor " + (i - 1)) + " exited early (status "
                            + p.exitValue() + "): " + DemoMonitor.lastError(logs.get(i)));
                }
            }
            Sample s = sample(seconds);
            if (s == null) {
                continue;
            }
            last = s;
            window.addLast(s);
            while (window.size() > 2 && s.seconds() - window.getFirst().seconds() > RATE_WINDOW_SECONDS) {
                window.removeFirst();
            }
            if (!Double.isNaN(s.meanReturn())) {
                curve.add(new double[] {seconds, s.meanReturn()});
            }
            String line = line(s, rate(window));
            if (terminal) {
                System.err.print("\r" + line + "\u001b[K");
                System.err.flush();
            } else if (seconds - lastPrint >= 5) {
                out.println(line);
                out.flush();
                lastPrint = seconds;
            }
            String why = stop(s, target, maxSeconds, maxSteps);
            if (why != null) {
                if (terminal) {
                    System.err.println();
                } else {
                    out.println(line);
                }
                boolean reached = why.equals("reached");
                return new Outcome(reached, reached ? null : why, last.meanReturn(), last.episodes(), last.version(),
                        last.envSteps(), seconds, curve);
            }
        }
    }

    private static double ratio(Double sum, Double count) {
        return sum == null || count == null || count == 0 ? 0 : sum / count;
    }

    @Override
    public void close() {
        http.close();
    }
}

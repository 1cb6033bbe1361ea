package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.TensorMap;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * FedAU-style weights for unknown participation (Wang and Ji, ICLR 2024), in updates instead of rounds: a
 * worker's weight is its mean participation interval, the updates merged between two of its own, over the
 * number of workers N̂. A worker that pushes ten times as often as another gets a tenth of its weight, so
 * every worker's data moves the model about as much per unit of time however fast it trains. With rate rᵢ
 * and R = Σrⱼ the interval is R/rᵢ, so the mean of the weight over the updates merged is 1: the weights
 * reweigh, they do not scale the step on average.
 *
 * <p>The interval is counted in updates merged (finer than versions: a fast worker may appear twice in
 * one buffer), each capped at {@code cap}·N̂ (FedAU's cutoff: a worker back after a long absence does not
 * get the weight of its absence), and averaged over its last {@value #MEMORY} intervals (an exponential
 * mean after that, so that a worker whose speed changes is followed). A worker's first update, and an
 * update without a worker, weighs 1, the mean. N̂ is the number of workers held: at most
 * {@value WorkerClock#WINDOW} + 1, the least recently merged dropped beyond that, whatever the number of
 * ids a client makes up.
 *
 * <p>The weights change only at publishes ({@link #published}), in the order the updates were merged, and
 * are exported with the state: a replay, or a restart that adopts the held updates, weighs them the same.
 */
final class ParticipationWeights {
    static final int MEMORY = 32;
    private static final String CLOCK = "participation/merged";
    private static final String WORKERS = "participation/workers";

    /** Per worker: the merge count at its last update, its intervals seen (up to MEMORY), their mean. */
    private record Entry(long last, int seen, double mean) {}

    private final double cap;
    private final Map<String, Entry> workers = new HashMap<>();
    private long merged;

    /** @param cap an interval counts at most {@code cap} × N̂ updates */
    ParticipationWeights(double cap) {
        this.cap = cap;
    }

    /** The weight of an update from {@code worker}: its mean interval over N̂, 1 when not known yet. */
    double weight(String worker) {
        Entry e = worker.isEmpty() ? null : workers.get(worker);
        return e == null || e.seen() == 0 ? 1 : e.mean() / workers.size();
    }

    /** Records the updates of a publish, in the order they were merged. */
    void published(List<Update> updates) {
        for (Update u : updates) {
            merged++;
            if (u.worker().isEmpty()) {
                continue;
            }
            Entry e = workers.get(u.worker());
            if (e == null) {
                workers.put(u.worker(), new Entry(merged, 0, 0));
                continue;
            }
            double interval = Math.min(merged - e.last(), cap * workers.size());
            int seen = Math.min(MEMORY, e.seen() + 1);
            workers.put(u.worker(), new Entry(merged, seen, e.mean() + (interval - e.mean()) / seen));
        }
        if (workers.size() > WorkerClock.WINDOW + 1) {
            List<Map.Entry<String, Entry>> byAge = new ArrayList<>(workers.entrySet());
            byAge.sort((a, b) -> Long.compare(a.getValue().last(), b.getValue().last()));
            for (int i = 0; i < byAge.size() - WorkerClock.WINDOW - 1; i++) {
                workers.remove(byAge.get(i).getKey());
            }
        }
    }

    /** Workers held (for the bound's test). */
    int size() {
        return workers.size();
    }

    void write(TensorMap state) {
        StringBuilder out = new StringBuilder();
        workers.entrySet().stream().sorted((a, b) -> Long.compare(a.getValue().last(), b.getValue().last()))
                .forEach(e -> out.append(out.isEmpty() ? "" : ",").append(e.getValue().last()).append(':')
                        .append(e.getValue().seen()).append(':').append(e.getValue().mean()).append(':')
                        .append(Base64.getUrlEncoder().withoutPadding()
                                .encodeToString(e.getKey().getBytes(StandardCharsets.UTF_8))));
        state.putMetadata(CLOCK, Long.toString(merged)).putMetadata(WORKERS, out.toString());
    }

    /**
     * Reads what {@link #write} wrote, checking all before changing anything; a state without it (written with
     * the weights off, or before they existed) starts afresh.
     *
     * @throws IllegalArgumentException naming the entry that is not {@code last:seen:mean:worker} in range
     */
    void read(TensorMap state) {
        String clock = state.metadata().get(CLOCK);
        String s = state.metadata().get(WORKERS);
        long count = 0;
        if (clock != null) {
            if (!clock.matches("\\d{1,18}")) {
                throw new IllegalArgumentException("fedbuff state: participation count \"" + clock
                        + "\" is not a whole number >= 0");
            }
            count = Long.parseLong(clock);
        }
        Map<String, Entry> entries = new HashMap<>();
        if (s != null && !s.isEmpty()) {
            for (String e : s.split(",", -1)) {
                String[] p = e.split(":", -1);
                if (p.length != 4 || !p[0].matches("\\d{1,18}") || !p[1].matches("\\d{1,3}")) {
                    throw bad(e, "not last:seen:mean:worker");
                }
                long last = Long.parseLong(p[0]);
                int seen = Integer.parseInt(p[1]);
                if (last < 1 || last > count) {
                    throw bad(e, "last " + last + " is not in [1, " + count + "]");
                }
                if (seen > MEMORY) {
                    throw bad(e, "seen " + seen + " is above " + MEMORY);
                }
                double mean;
                try {
                    mean = Double.parseDouble(p[2]);
                } catch (NumberFormatException x) {
                    throw bad(e, "the mean is not a number");
                }
                if (!(mean >= 0 && Double.isFinite(mean)) || (seen > 0 && !(mean > 0))) {
                    throw bad(e, "the mean " + p[2] + " is not finite and > 0");
                }
                String worker;
                try {
                    worker = new String(Base64.getUrlDecoder().decode(p[3]), StandardCharsets.UTF_8);
                } catch (IllegalArgumentException x) {
                    throw bad(e, "the worker is not base64");
                }
                entries.put(worker, new Entry(last, seen, mean));
            }
        }
        merged = count;
        workers.clear();
        workers.putAll(entries);
    }

    private static IllegalArgumentException bad(String entry, String problem) {
        return new IllegalArgumentException("fedbuff state: participation entry \"" + entry + "\": " + problem);
    }
}

package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.TensorMap;

/**
 * Decides when and what to merge: a pure, deterministic state machine over validated updates and clock
 * ticks. It does no I/O and never blocks; refusals come back as {@link Refused} decisions, not exceptions.
 * The service owns the loop, the log and the checkpoints, and calls a strategy from one thread at a time.
 *
 * <p>Call order: {@link Strategies#create} (or {@link #restoreState} on a fresh instance after a restart),
 * then any interleaving of {@link #onUpdate} and {@link #onTick}. After a {@link Published} decision,
 * {@link #model()}, {@link #version()} and {@link #exportState()} together are a consistent checkpoint.
 *
 * <p>Crash recovery: {@code model()}, {@code version()} and {@code exportState()} always describe the last
 * publish; updates accepted since then (buffered) are not part of them. Restoring that triple on a new
 * instance and replaying, in their original order, the updates accepted after that publish gives the same
 * decisions and bit-identical models as the original run, provided the deadline events
 * ({@link #onDeadline}) are replayed at the same places among them: the clock only decides <em>when</em>
 * a deadline passes ({@link #deadlineDue}); what it does is a deterministic step the service logs.
 *
 * <p>Staleness is τ = {@link #version()} − {@link Update#baseVersion()}. With {@code max_staleness} in the
 * configuration an update with τ beyond it is refused with code {@link Refused#STALENESS}.
 */
public interface Strategy {

    /** The strategy's name as given to {@link Strategies#create}: fedavg, fedasync, fedbuff or diloco. */
    String name();

    /**
     * Offers one validated update. When {@link #keepsDeltas} the strategy may keep a reference to
     * {@code u.delta()} until its next publish, and the caller must not mutate it until then; otherwise the
     * strategy is done with it when this returns.
     */
    Decision onUpdate(Update u);

    /**
     * Whether the strategy may read an update's delta after {@link #onUpdate} returned (until its next publish).
     * The service holds the delta's buffer that long, so the receive memory must have room for every update a
     * publish may wait for. True unless the strategy says otherwise.
     */
    default boolean keepsDeltas() {
        return true;
    }

    /**
     * Whether the current round's deadline has passed at {@code nowMillis} and {@link #onDeadline} is due.
     * Only measures time (the first call after a round opens starts its clock); changes no decision.
     * Strategies without deadlines answer false.
     */
    default boolean deadlineDue(long nowMillis) {
        return false;
    }

    /**
     * The current round's deadline passed: from now on the round closes with its minimum of updates
     * (at once, when it holds them). Deterministic: replaying it at the same place among the updates gives
     * the same decisions.
     */
    default Decision onDeadline() {
        return new Buffered(held(), needed());
    }

    /** A clock tick: {@link #onDeadline} when {@link #deadlineDue}, else nothing. */
    default Decision onTick(long nowMillis) {
        return deadlineDue(nowMillis) ? onDeadline() : new Buffered(held(), needed());
    }

    /**
     * What workers run between pushes when the strategy prescribes it (DiLoCo's inner loop), else null.
     * A strategy with more than one fragment takes deltas that hold only the fragment due.
     */
    default InnerLoop innerLoop() {
        return null;
    }

    /** Updates the next publish waits for (a deadline may close a round with fewer). */
    default int needed() {
        return 1;
    }

    /** How many updates accepted since the last publish are held towards the next. */
    default int held() {
        return 0;
    }

    /**
     * Takes over updates another instance accepted and held (after {@link #restoreState} from its state),
     * as accepted, in arrival order and with their deltas: none is judged again, and none closes a round by
     * itself; the next update or deadline does.
     *
     * @throws IllegalArgumentException when this strategy holds no updates between publishes
     */
    default void adopt(java.util.List<Update> held) {
        if (!held.isEmpty()) {
            throw new IllegalArgumentException(name() + " holds no updates between publishes: cannot adopt " + held.size());
        }
    }

    /** The current global weights (f32). A published model is never mutated afterwards: keep it freely. */
    TensorMap model();

    /** The version of {@link #model()}; starts where it was created or restored and grows by 1 per publish. */
    long version();

    /**
     * The state, as of the last publish, that later decisions depend on besides the model (optimizer
     * moments, momentum buffers, recent models for staleness-aware mixing), as tensors with string
     * metadata, fit to write as safetensors. The tensors are never written afterwards (copies, or published
     * models), so the map may be written out while the strategy goes on.
     */
    TensorMap exportState();

    /**
     * Replaces everything with a checkpoint: the model (copied), its version and a state from
     * {@link #exportState()} of a strategy of the same name and configuration. Buffered updates are dropped.
     *
     * @throws IllegalArgumentException when the state belongs to another strategy or does not fit the model
     */
    void restoreState(TensorMap model, long version, TensorMap state);
}

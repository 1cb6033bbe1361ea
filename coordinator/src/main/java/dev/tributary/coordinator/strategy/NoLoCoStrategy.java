package dev.tributary.coordinator.strategy;

import dev.tributary.tensor.TensorMap;

/**
 * What the coordinator's update path sees under NoLoCo: the initial model at version 0, served to joining
 * workers, and no update taken in. NoLoCo has no global outer step; workers exchange outer states through
 * the relay ({@link NoLoCoRelay}, the {@code PeerRelay} service) instead of pushing deltas, so a push is
 * refused with a reason that says where to go.
 */
final class NoLoCoStrategy extends BaseStrategy {
    private final NoLoCoRelay relay;

    NoLoCoStrategy(NoLoCoRelay relay, TensorMap initialModel) {
        super("noloco", initialModel, Long.MAX_VALUE);
        this.relay = relay;
    }

    /** The relay this configuration describes (its plan and pairing seed). */
    NoLoCoRelay relay() {
        return relay;
    }

    @Override
    public Decision onUpdate(Update u) {
        return new Refused("noloco takes no pushed updates: workers exchange outer states through PeerRelay "
                + "(run 'tributary work' against this coordinator)", Refused.INVALID);
    }

    @Override
    void writeState(TensorMap state) {}

    @Override
    void readState(TensorMap state, long version) {}
}

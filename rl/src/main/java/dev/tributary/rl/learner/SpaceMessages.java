package dev.tributary.rl.learner;

import dev.tributary.protocol.BoxSpec;
import dev.tributary.protocol.SpaceSpec;
import dev.tributary.rl.env.Space;

/** Spaces to and from their wire form, {@link SpaceSpec}. */
public final class SpaceMessages {
    /** Elements a box on the wire may have at most. */
    static final int MAX_BOX_ELEMENTS = 1 << 16;

    private SpaceMessages() {}

    public static SpaceSpec toMessage(Space s) {
        return switch (s) {
            case Space.Discrete d -> SpaceSpec.newBuilder().setDiscrete(d.n()).build();
            case Space.Box b -> {
                BoxSpec.Builder box = BoxSpec.newBuilder();
                for (int d : b.shape()) {
                    box.addShape(d);
                }
                for (float v : b.low()) {
                    box.addLow(v);
                }
                for (float v : b.high()) {
                    box.addHigh(v);
                }
                yield SpaceSpec.newBuilder().setBox(box).build();
            }
        };
    }

    /**
     * The space {@code m} describes.
     *
     * @throws IllegalArgumentException when it describes none, or a box of more than 65536 elements
     */
    public static Space fromMessage(SpaceSpec m) {
        return switch (m.getKindCase()) {
            case DISCRETE -> new Space.Discrete(m.getDiscrete());
            case BOX -> {
                BoxSpec b = m.getBox();
                if (b.getLowCount() > MAX_BOX_ELEMENTS || b.getShapeCount() > 8) {
                    throw new IllegalArgumentException("box space of " + b.getLowCount() + " elements in "
                            + b.getShapeCount() + " dimensions: at most " + MAX_BOX_ELEMENTS + " in 8");
                }
                float[] low = new float[b.getLowCount()];
                float[] high = new float[b.getHighCount()];
                for (int i = 0; i < low.length; i++) {
                    low[i] = b.getLow(i);
                }
                for (int i = 0; i < high.length; i++) {
                    high[i] = b.getHigh(i);
                }
                yield new Space.Box(low, high, b.getShapeList().stream().mapToInt(Integer::intValue).toArray());
            }
            case KIND_NOT_SET -> throw new IllegalArgumentException("space: neither discrete nor box");
        };
    }
}

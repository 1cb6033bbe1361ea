package dev.tributary.tensor;

/**
 * A checkpoint (a safetensors file, a sharded index or its shards) breaks a rule of the format. The
 * message is one line: the file, then the rule that is broken and the tensor concerned when there is
 * one, e.g. {@code model.safetensors: tensor "a.weight": data_offsets [0,20] hold 20 bytes but F32 [2,3] needs 24}.
 */
public final class InvalidCheckpointException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String source;
    private final String problem;

    /**
     * @param source  the file (or other origin) that is malformed, as the user named it
     * @param problem what is wrong, without the source
     */
    public InvalidCheckpointException(String source, String problem) {
        super(source + ": " + problem);
        this.source = source;
        this.problem = problem;
    }

    /** The file or other origin that is malformed. */
    public String source() {
        return source;
    }

    /** What is wrong, without the source prefix. */
    public String problem() {
        return problem;
    }
}

package dev.tributary.merge;

/**
 * Task arithmetic (Ilharco et al.): θ_base + λ·Σwᵢδᵢ with δᵢ = θᵢ − θ_base, divided by Σwᵢ when {@code
 * normalize} is set (default false).
 */
final class TaskArithmetic extends Method {
    TaskArithmetic() {
        super("task_arithmetic", TaskVectors.globals(Sparsification.NONE, false, false),
                TaskVectors.perModel(Sparsification.NONE), true, 1, Integer.MAX_VALUE);
    }

    @Override
    Kernel kernel(Bound params) {
        return TaskVectors.kernel(params, Sparsification.NONE, false);
    }
}

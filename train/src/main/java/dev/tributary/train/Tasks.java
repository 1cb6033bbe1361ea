package dev.tributary.train;

import dev.tributary.train.fmnist.FashionMnistTask;
import dev.tributary.train.synthetic.SyntheticLogReg;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/** The tasks the command line can {@code init} and {@code work} on, by name. */
public final class Tasks {
    private static final Map<String, Supplier<Task>> TASKS = new LinkedHashMap<>();

    static {
        TASKS.put(SyntheticLogReg.NAME, SyntheticLogReg::new);
        TASKS.put(FashionMnistTask.MLP, FashionMnistTask::mlp);
        TASKS.put(FashionMnistTask.CNN, FashionMnistTask::cnn);
    }

    private Tasks() {}

    /** The task called {@code name}; the message of the exception lists the known ones. */
    public static Task byName(String name) {
        Supplier<Task> t = TASKS.get(name);
        if (t == null) {
            throw new IllegalArgumentException("unknown task \"" + name + "\" (known: " + String.join(", ", names()) + ")");
        }
        return t.get();
    }

    /** Known task names, in registration order. */
    public static List<String> names() {
        return List.copyOf(TASKS.keySet());
    }
}

package dev.tributary.train;

import dev.tributary.train.fmnist.FashionMnistTask;
import dev.tributary.train.synthetic.SyntheticLogReg;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.function.Supplier;

/**
 * The tasks the command line can {@code init}, {@code work} on and {@code serve --task} evaluates, by name:
 * the built-in ones, then every {@link Task} found on the class path through {@link ServiceLoader} (a
 * jar with {@code META-INF/services/dev.tributary.train.Task} naming classes with a public no-argument
 * constructor; with the launcher, put it on {@code TRIBUTARY_CLASSPATH}). A found task may not take a
 * built-in name.
 */
public final class Tasks {
    private static final Map<String, Supplier<Task>> TASKS = new LinkedHashMap<>();

    static {
        TASKS.put(SyntheticLogReg.NAME, SyntheticLogReg::new);
        TASKS.put(FashionMnistTask.MLP, FashionMnistTask::mlp);
        TASKS.put(FashionMnistTask.CNN, FashionMnistTask::cnn);
        for (ServiceLoader.Provider<Task> p : ServiceLoader.load(Task.class).stream().toList()) {
            Task t = p.get();
            if (TASKS.containsKey(t.name())) {
                throw new IllegalStateException("task \"" + t.name() + "\" of " + p.type().getName()
                        + " has the name of a task already known");
            }
            TASKS.put(t.name(), p::get);
        }
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

package dev.tributary.cli;

import dev.tributary.train.Task;
import dev.tributary.train.Tasks;
import dev.tributary.train.fmnist.FashionMnistTask;
import dev.tributary.train.partition.Partitioner;
import java.nio.file.Files;
import java.nio.file.Path;

/** Resolves {@code --task} with the optional {@code --data} and {@code --partition} flags. */
final class TaskOptions {
    private TaskOptions() {}

    static Task resolve(String name, Path data, String partition) {
        Task t;
        try {
            t = Tasks.byName(name);
        } catch (IllegalArgumentException e) {
            throw new UserException(e.getMessage());
        }
        if (data == null && partition == null) {
            return t;
        }
        if (!(t instanceof FashionMnistTask f)) {
            throw new UserException("--data and --partition apply to the Fashion-MNIST tasks, not to " + name);
        }
        if (data != null) {
            if (!Files.isDirectory(data)) {
                throw new UserException("--data " + data + ": no such folder");
            }
            f = f.withDataDir(data);
        }
        if (partition != null) {
            try {
                f = f.withPartition(Partitioner.parse(partition), 0);
            } catch (IllegalArgumentException e) {
                throw new UserException("--partition " + partition + ": " + e.getMessage());
            }
        }
        return f;
    }
}

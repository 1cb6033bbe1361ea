package dev.tributary.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tributary.tensor.Checkpoint;
import dev.tributary.tensor.Shapes;
import dev.tributary.tensor.TensorInfo;
import dev.tributary.tensor.TensorSource;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code tributary inspect}: tensors, dtypes, shapes, totals and metadata of a checkpoint. */
@Command(
        name = "inspect",
        mixinStandardHelpOptions = true,
        description = {
            "List every tensor's name, dtype and shape, the total parameter count and bytes, and the metadata.",
            "PATH is a .safetensors file, or a folder holding model.safetensors or a sharded",
            "model.safetensors.index.json."
        })
final class InspectCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "PATH", description = "a .safetensors file or a checkpoint folder")
    Path path;

    @Option(names = "--json", description = "print one JSON object instead of a table")
    boolean json;

    @Spec
    CommandSpec spec;

    /** What inspect reports, in the order of the JSON output. */
    record Report(List<Map<String, Object>> tensors, long parameters, long bytes, Map<String, String> metadata) {}

    @Override
    public Integer call() throws Exception {
        if (!Files.exists(path)) {
            throw new UserException("no such file or folder: " + path);
        }
        Report report;
        try (TensorSource src = Checkpoint.open(path)) {
            report = report(src);
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(report));
        } else {
            printTable(out, report);
        }
        out.flush();
        return 0;
    }

    static Report report(TensorSource src) {
        List<Map<String, Object>> tensors = new ArrayList<>();
        long params = 0;
        long bytes = 0;
        for (TensorInfo info : src.infos()) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("name", info.name());
            t.put("dtype", info.dtype().safetensorsName());
            t.put("shape", info.shape());
            tensors.add(t);
            params = Math.addExact(params, info.numel());
            bytes = Math.addExact(bytes, info.byteSize());
        }
        return new Report(tensors, params, bytes, new LinkedHashMap<>(src.metadata()));
    }

    private static void printTable(PrintWriter out, Report r) {
        int nameWidth = "name".length();
        for (Map<String, Object> t : r.tensors()) {
            nameWidth = Math.max(nameWidth, ((String) t.get("name")).length());
        }
        nameWidth = Math.min(nameWidth, 80);
        String fmt = "%-" + nameWidth + "s  %-8s  %s%n";
        out.printf(fmt, "name", "dtype", "shape");
        for (Map<String, Object> t : r.tensors()) {
            out.printf(fmt, t.get("name"), t.get("dtype"), Shapes.toString((long[]) t.get("shape")));
        }
        out.println();
        out.printf("tensors:    %,d%n", r.tensors().size());
        out.printf("parameters: %,d%n", r.parameters());
        out.printf("bytes:      %,d (%s)%n", r.bytes(), Human.bytes(r.bytes()));
        if (r.metadata().isEmpty()) {
            out.println("metadata:   (none)");
        } else {
            out.println("metadata:");
            r.metadata().forEach((k, v) -> out.printf("  %s: %s%n", k, v));
        }
    }
}

package dev.tributary.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.tributary.merge.lora.AdapterInfo;
import dev.tributary.merge.lora.LoraConfig;
import dev.tributary.merge.lora.LoraMerge;
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
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code tributary inspect}: tensors, dtypes, shapes, totals and metadata of a checkpoint or an adapter. */
@Command(
        name = "inspect",
        mixinStandardHelpOptions = true,
        description = {
            "List every tensor's name, dtype and shape, the total parameter count and bytes, and the metadata.",
            "PATH is a .safetensors file, or a folder holding model.safetensors or a sharded",
            "model.safetensors.index.json, or a PEFT adapter folder (adapter_config.json +",
            "adapter_model.safetensors): then also its type, rank, alpha, targets and modules."
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
        boolean adapter = AdapterInfo.isAdapterFolder(path) && !Files.exists(path.resolve("model.safetensors"));
        Report report;
        try (TensorSource src = Checkpoint.open(adapter ? path.resolve(LoraMerge.ADAPTER_FILE) : path)) {
            report = report(src);
        }
        AdapterInfo info = adapter ? AdapterInfo.read(path) : null;
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Object value = report;
            if (info != null) {
                Map<String, Object> both = new LinkedHashMap<>();
                both.put("adapter", adapterJson(info));
                both.put("tensors", report.tensors());
                both.put("parameters", report.parameters());
                both.put("bytes", report.bytes());
                both.put("metadata", report.metadata());
                value = both;
            }
            out.println(new ObjectMapper().disable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(value));
        } else {
            if (info != null) {
                printAdapter(out, info);
            }
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

    static Map<String, Object> adapterJson(AdapterInfo info) {
        LoraConfig c = info.config();
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("peft_type", "LORA");
        a.put("use_dora", c.useDora());
        a.put("use_rslora", c.useRslora());
        a.put("fan_in_fan_out", c.fanInFanOut());
        a.put("r", c.r());
        a.put("lora_alpha", c.loraAlpha());
        a.put("target_modules", c.targetList() != null ? c.targetList() : c.targetRegex());
        a.put("modules_to_save", c.modulesToSave());
        a.put("rank_pattern", c.rankPattern());
        a.put("alpha_pattern", c.alphaPattern());
        a.put("base_model_name_or_path", c.baseModel());
        List<Map<String, Object>> modules = new ArrayList<>();
        for (AdapterInfo.Module m : info.modules()) {
            Map<String, Object> mm = new LinkedHashMap<>();
            mm.put("name", m.name());
            mm.put("kind", m.embedding() ? "embedding" : "linear");
            mm.put("dora", m.dora());
            mm.put("rank", m.rank());
            mm.put("alpha", m.alpha());
            mm.put("scale", m.scale());
            modules.add(mm);
        }
        a.put("modules", modules);
        List<Map<String, Object>> replaced = new ArrayList<>();
        for (AdapterInfo.Replaced r : info.replaced()) {
            replaced.add(Map.of("tensor", r.tensor(), "key", r.key()));
        }
        a.put("replaces", replaced);
        return a;
    }

    private static void printAdapter(PrintWriter out, AdapterInfo info) {
        LoraConfig c = info.config();
        out.printf("adapter:         LoRA%s%s%s%n", c.useDora() ? " (DoRA)" : "", c.useRslora() ? ", rsLoRA" : "",
                c.fanInFanOut() ? ", fan_in_fan_out" : "");
        out.printf(Locale.ROOT, "r:               %d%n", c.r());
        out.printf(Locale.ROOT, "lora_alpha:      %s%n", number(c.loraAlpha()));
        out.printf("target_modules:  %s%n", c.targetList() != null ? String.join(", ", c.targetList())
                : c.targetRegex() != null ? c.targetRegex() + " (regex)" : "(all)");
        if (!c.modulesToSave().isEmpty()) {
            out.printf("modules_to_save: %s%n", String.join(", ", c.modulesToSave()));
        }
        if (c.baseModel() != null) {
            out.printf("base model:      %s%n", c.baseModel());
        }
        int width = "module".length();
        for (AdapterInfo.Module m : info.modules()) {
            width = Math.min(80, Math.max(width, m.name().length()));
        }
        String fmt = "  %-" + width + "s  %-9s  %4s  %6s  %8s%s%n";
        out.println();
        out.printf(fmt, "module", "kind", "rank", "alpha", "scale", "");
        for (AdapterInfo.Module m : info.modules()) {
            out.printf(Locale.ROOT, fmt, m.name(), m.embedding() ? "embedding" : "linear", m.rank(), number(m.alpha()),
                    String.format(Locale.ROOT, "%.4g", m.scale()), m.dora() ? "  DoRA" : "");
        }
        for (AdapterInfo.Replaced r : info.replaced()) {
            out.printf("  replaces %s (saved whole as %s)%n", r.tensor(), r.key());
        }
        out.println();
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
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

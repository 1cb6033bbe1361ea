package dev.tributary.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Python's safetensors (and PyTorch) read back what our writers produce: every dtype, metadata, and a
 * sharded folder. Runs when a Python that can import torch and safetensors is found
 * ({@code /opt/tvenv/bin/python}, {@code $TRIBUTARY_PYTHON}, or {@code python3}); otherwise it is
 * skipped, saying so.
 */
class PythonRoundTripTest {
    private static String python;

    @TempDir
    Path tmp;

    /** Loads each file with safe_open (or raw deserialize for dtypes torch lacks) and prints what it sees. */
    private static final String READER = """
            import hashlib, json, os, sys
            import torch
            from safetensors import safe_open, deserialize
            from safetensors.torch import load_file
            NAMES = {torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16",
                     torch.int32: "I32", torch.int64: "I64", torch.float16: "F16", torch.bfloat16: "BF16",
                     torch.float32: "F32", torch.float64: "F64", torch.complex64: "C64",
                     torch.float8_e4m3fn: "F8_E4M3", torch.float8_e5m2: "F8_E5M2"}
            for n in ("uint16", "uint32", "uint64", "float8_e8m0fnu", "float4_e2m1fn_x2"):
                if hasattr(torch, n):
                    NAMES[getattr(torch, n)] = {"uint16": "U16", "uint32": "U32", "uint64": "U64",
                                                "float8_e8m0fnu": "F8_E8M0", "float4_e2m1fn_x2": "F4"}[n]
            out = {}
            for path in sys.argv[1:]:
                if path.endswith(".index.json"):
                    index = json.load(open(path))
                    folder = os.path.dirname(path)
                    tensors, total = {}, 0
                    for shard in dict.fromkeys(index["weight_map"].values()):
                        loaded = load_file(os.path.join(folder, shard))
                        for k, t in loaded.items():
                            assert index["weight_map"][k] == shard, k
                            tensors[k] = t
                            total += t.numel() * t.element_size()
                    assert total == index["metadata"]["total_size"], (total, index["metadata"])
                    assert set(tensors) == set(index["weight_map"])
                    out[path] = {"metadata": {}, "tensors": {k: {"dtype": NAMES[t.dtype], "shape": list(t.shape),
                                 "sha256": hashlib.sha256(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()).hexdigest()}
                                 for k, t in tensors.items()}}
                    continue
                try:
                    with safe_open(path, framework="pt") as f:
                        meta = f.metadata() or {}
                        tensors = {}
                        for k in f.keys():
                            t = f.get_tensor(k)
                            shape = list(t.shape)
                            if NAMES[t.dtype] == "F4":
                                shape[-1] *= 2
                            raw = t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
                            tensors[k] = {"dtype": NAMES[t.dtype], "shape": shape, "sha256": hashlib.sha256(raw).hexdigest()}
                except Exception as e:
                    if "F6" not in str(e) and "dtype" not in str(e).lower():
                        raise
                    data = open(path, "rb").read()
                    meta = json.loads(data[8:8 + int.from_bytes(data[:8], "little")]).get("__metadata__", {})
                    tensors = {k: {"dtype": v["dtype"], "shape": list(v["shape"]),
                                   "sha256": hashlib.sha256(bytes(v["data"])).hexdigest()} for k, v in deserialize(data)}
                out[path] = {"metadata": meta, "tensors": tensors}
            print(json.dumps(out))
            """;

    @BeforeAll
    static void findPython() {
        List<String> candidates = new ArrayList<>();
        String env = System.getenv("TRIBUTARY_PYTHON");
        if (env != null && !env.isBlank()) {
            candidates.add(env);
        }
        candidates.add("/opt/tvenv/bin/python");
        candidates.add("python3");
        for (String c : candidates) {
            try {
                Process p = new ProcessBuilder(c, "-c", "import torch, safetensors.torch").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    python = c;
                    return;
                }
            } catch (IOException e) {
                // Not installed here; try the next one.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        String reason = "PythonRoundTripTest skipped: no Python that imports torch and safetensors (tried "
                + String.join(", ", candidates) + ")";
        System.out.println(reason);
        Assumptions.abort(reason);
    }

    private static Json.Obj runPython(List<Path> files) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(python, "-c", READER));
        files.forEach(f -> cmd.add(f.toString()));
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "python exit status; output: " + out);
        try {
            return (Json.Obj) Json.parse(out);
        } catch (Json.ParseException e) {
            throw new AssertionError("python printed no JSON: " + out, e);
        }
    }

    /** Python's view of {@code file} must equal ours: names, dtypes, shapes, bytes (by SHA-256), metadata. */
    private static void assertSameAsPython(Json.Obj seen, Path file, TensorSource ours) {
        Json.Obj mine = (Json.Obj) seen.members().get(file.toString());
        Json.Obj tensors = TestFixtures.obj(mine, "tensors");
        assertEquals(ours.names().stream().sorted().toList(), tensors.members().keySet().stream().sorted().toList());
        for (String n : ours.names()) {
            Json.Value t = tensors.members().get(n);
            Tensor tensor = ours.tensor(n);
            assertEquals(tensor.dtype().safetensorsName(), TestFixtures.str(t, "dtype"), n);
            assertEquals(Shapes.toString(tensor.shape()), Shapes.toString(TestFixtures.longs(t, "shape")), n);
            assertEquals(sha256(tensor), TestFixtures.str(t, "sha256"), n + " bytes");
        }
        Json.Obj meta = TestFixtures.obj(mine, "metadata");
        assertEquals(ours.metadata().size(), meta.members().size());
        ours.metadata().forEach((k, v) -> assertEquals(v, ((Json.Str) meta.members().get(k)).value(), k));
    }

    private static String sha256(Tensor t) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update(t.data().toArray(ValueLayout.JAVA_BYTE));
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void pythonReadsOurFilesWithEveryDtype() throws Exception {
        TensorMap all = Safetensors.readAll(TestFixtures.path("all_dtypes.safetensors"));
        all.putMetadata("written_by", "tributary ✓");
        all.put("ours.f16", Tensor.ofFloats(DType.F16, new long[] {2, 3}, 1, -2, 65504, 1e-7f, 0.1f, -0f));
        all.put("ours.e4m3", Tensor.ofFloats(DType.F8_E4M3, new long[] {5}, 448, -0.5f, 0.013f, 300, 1e-3f));
        Path ours = tmp.resolve("ours.safetensors");
        Safetensors.write(ours, all);
        TensorMap f6 = Safetensors.readAll(TestFixtures.path("f6.safetensors"));
        Path oursF6 = tmp.resolve("f6.safetensors");
        Safetensors.write(oursF6, f6);

        Json.Obj seen = runPython(List.of(ours, oursF6));
        assertSameAsPython(seen, ours, all);
        assertSameAsPython(seen, oursF6, f6);
    }

    @Test
    void pythonReadsOurShardedCheckpoints() throws Exception {
        TensorMap m = new TensorMap();
        Arena arena = Arena.ofAuto();
        for (int i = 0; i < 5; i++) {
            Tensor t = Tensor.allocate(i % 2 == 0 ? DType.F32 : DType.BF16, new long[] {3, 4 + i}, arena);
            for (long j = 0; j < t.numel(); j++) {
                t.setFloat(j, i * 10 + j * 0.25f);
            }
            m.put("block." + i + ".weight", t);
        }
        Path dir = tmp.resolve("sharded");
        try (CheckpointWriter w = CheckpointWriter.create(dir, m.infos(), Map.of("format", "pt"), 64)) {
            for (String n : m.names()) {
                w.write(n, m.get(n));
            }
        }
        Path index = dir.resolve(Checkpoint.INDEX_FILE);
        Json.Obj seen = runPython(List.of(index));
        try (TensorSource back = Checkpoint.open(dir)) {
            Json.Obj mine = (Json.Obj) seen.members().get(index.toString());
            Json.Obj tensors = TestFixtures.obj(mine, "tensors");
            assertEquals(m.names().size(), tensors.members().size());
            for (String n : m.names()) {
                assertEquals(sha256(back.tensor(n)), TestFixtures.str(tensors.members().get(n), "sha256"), n);
            }
        }
        assertEquals(true, Files.exists(dir.resolve("model-00005-of-00005.safetensors")));
    }
}

package dev.tributary.merge.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tributary.merge.Fixtures;
import dev.tributary.merge.ProgressListener;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Our merged folders load in Hugging Face transformers ({@code AutoModelForCausalLM.from_pretrained}, every
 * weight used, none missing) and give the logits of the folders the real mergekit wrote for the same
 * config, frankenmerges included; the copied tokenizer loads with {@code AutoTokenizer}. Runs with the
 * Python named by {@code $TRIBUTARY_PYTHON} when it imports torch, transformers and safetensors; otherwise
 * it is skipped, saying so.
 */
class TransformersLoadTest {
    private static final Path ROOT = Fixtures.root().resolve("mergekit");
    private static final List<String> CASES = List.of("passthrough_llama", "passthrough_gpt2", "ties_gradients",
            "slerp_slices", "linear_out_dtype");
    private static String python;

    private static final String SCRIPT = """
            import json, os, sys
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
            out = {}
            ids = torch.tensor([[1, 5, 9, 3, 17, 30, 2]])
            for ours, theirs in zip(sys.argv[1::2], sys.argv[2::2]):
                model, info = AutoModelForCausalLM.from_pretrained(ours, dtype=torch.float32, output_loading_info=True)
                reference = AutoModelForCausalLM.from_pretrained(theirs, dtype=torch.float32)
                with torch.no_grad():
                    diff = (model(ids).logits - reference(ids).logits).abs().max().item()
                cfg = model.config
                r = {"diff": diff, "missing": list(info["missing_keys"]), "unexpected": list(info["unexpected_keys"]),
                     "layers": getattr(cfg, "num_hidden_layers", None) or cfg.n_layer}
                if os.path.exists(os.path.join(ours, "tokenizer.json")):
                    r["tokens"] = AutoTokenizer.from_pretrained(ours)("w5 w9", add_special_tokens=False)["input_ids"]
                out[os.path.basename(ours)] = r
            print(json.dumps(out))
            """;

    @BeforeAll
    static void findPython() {
        String env = System.getenv("TRIBUTARY_PYTHON");
        String reason = null;
        if (env == null || env.isBlank()) {
            reason = "TransformersLoadTest skipped: $TRIBUTARY_PYTHON is not set (a Python with torch, transformers "
                    + "and safetensors)";
        } else {
            try {
                Process p = new ProcessBuilder(env, "-c", "import torch, transformers, safetensors")
                        .redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(120, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    python = env;
                    return;
                }
                reason = "TransformersLoadTest skipped: " + env + " cannot import torch, transformers and safetensors";
            } catch (IOException e) {
                reason = "TransformersLoadTest skipped: cannot run " + env + ": " + e.getMessage();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                reason = "TransformersLoadTest skipped: interrupted";
            }
        }
        System.out.println(reason);
        Assumptions.abort(reason);
    }

    @Test
    void mergedFoldersLoadAndGiveMergekitsLogits(@TempDir Path tmp) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(python, "-c", SCRIPT));
        for (String c : CASES) {
            Path out = tmp.resolve(c);
            MergeRunner.run(ROOT.resolve("cases/" + c + ".yaml"), out, ProgressListener.NONE);
            cmd.add(out.toString());
            cmd.add(ROOT.resolve("expected/" + c).toString());
        }
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String stdout = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS), "transformers did not finish");
        assertEquals(0, p.exitValue(), "transformers failed: " + stdout);
        String last = stdout.strip().lines().reduce((a, b) -> b).orElse("{}");
        JsonNode result = new ObjectMapper().readTree(last);
        for (String c : CASES) {
            JsonNode r = result.get(c);
            assertTrue(r.get("missing").isEmpty() && r.get("unexpected").isEmpty(), c + ": weights not used as saved: " + r);
            assertTrue(r.get("diff").asDouble() <= 1e-5, c + ": logits differ from mergekit's by " + r.get("diff"));
        }
        assertEquals(6, result.get("passthrough_llama").get("layers").asInt());
        assertEquals(4, result.get("passthrough_gpt2").get("layers").asInt());
        assertEquals("[5,9]", result.get("linear_out_dtype").get("tokens").toString());
    }
}

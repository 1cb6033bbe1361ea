package dev.tributary.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimulateCommandTest {
    @TempDir
    Path dir;

    private Path config(String extra) throws Exception {
        Path file = dir.resolve("run.yaml");
        Files.writeString(file, """
                task: synthetic-logreg
                clients: 5
                seed: 3
                speeds: {distribution: lognormal, spread: 10, median: 64}
                strategy: {name: fedbuff, buffer_size: 2}
                local: {steps: 5}
                budget: {virtual_seconds: 40}
                target: 0.8
                eval_every: 4
                """ + extra);
        return file;
    }

    @Test
    void writesTheReportAndThePlotBesideIt() throws Exception {
        Path report = dir.resolve("out/r.json");
        CliRunner r = CliRunner.run("simulate", "--config", config("").toString(), "--report", report.toString(),
                "--seed", "11");
        assertEquals(0, r.status(), r.err());
        JsonNode j = new ObjectMapper().readTree(report.toFile());
        assertEquals("fedbuff", j.get("strategy").asText());
        assertEquals(11, j.get("seed").asLong(), "--seed overrides the config");
        assertEquals(40.0, j.get("virtual_seconds").asDouble());
        assertEquals(11, j.get("curve").size());
        assertTrue(Files.size(dir.resolve("out/r.png")) > 1000, "no plot beside the report");
        assertTrue(r.out().startsWith("fedbuff on synthetic-logreg, 5 clients, seed 11: 40 virtual s"), r.out());
        assertTrue(r.out().contains("updates " + j.get("updates").asLong() + " accepted"), r.out());
    }

    @Test
    void configMistakesAreOneLineErrors() throws Exception {
        CliRunner r = CliRunner.run("simulate", "--config", config("eval_evry: 3\n").toString());
        assertEquals(1, r.status());
        assertTrue(r.err().startsWith("error: " + dir.resolve("run.yaml") + ": unknown key \"eval_evry\""), r.err());
        assertEquals(1, r.err().lines().count(), r.err());
        CliRunner missing = CliRunner.run("simulate", "--config", dir.resolve("nope.yaml").toString());
        assertEquals(1, missing.status());
        assertTrue(missing.err().startsWith("error: no such file: "), missing.err());
    }
}

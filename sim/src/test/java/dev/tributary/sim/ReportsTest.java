package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportsTest {

    private static SimReport sample() {
        return Simulation.run(Configs.parse(Configs.synthetic(3, Map.of("name", "fedbuff", "buffer_size", 2), 20)),
                null).report();
    }

    @Test
    void jsonHasExactlyTheSpecifiedKeysInOrder(@TempDir Path dir) throws Exception {
        SimReport r = sample();
        Path json = dir.resolve("r.json");
        Reports.write(r, json);
        JsonNode root = new ObjectMapper().readTree(json.toFile());
        List<String> keys = new ArrayList<>();
        root.fieldNames().forEachRemaining(keys::add);
        assertEquals(List.of("strategy", "clients", "seed", "virtual_seconds", "wall_seconds", "final_accuracy",
                "time_to_target", "updates", "bytes_up", "bytes_down", "peak_bytes_per_second", "peak_up_bytes_per_second", "staleness", "curve"), keys);
        List<String> ttt = new ArrayList<>();
        root.get("time_to_target").fieldNames().forEachRemaining(ttt::add);
        assertEquals(List.of("target", "virtual_seconds"), ttt);
        List<String> st = new ArrayList<>();
        root.get("staleness").fieldNames().forEachRemaining(st::add);
        assertEquals(List.of("mean", "p50", "p99", "max"), st);
        JsonNode point = root.get("curve").get(1);
        assertTrue(point.isArray() && point.size() == 3, point.toString());
        assertEquals(r.curve().get(1).virtualSeconds(), point.get(0).asDouble());
        assertEquals(r.curve().get(1).accuracy(), point.get(1).asDouble());
        assertEquals(r.curve().get(1).bytes(), point.get(2).asLong());
        assertEquals(r, Reports.read(json), "a written report reads back the same");
    }

    @Test
    void unreachedTargetIsNull() throws Exception {
        SimReport r = sample();
        SimReport never = new SimReport(r.strategy(), r.clients(), r.seed(), r.virtualSeconds(), r.wallSeconds(),
                r.finalAccuracy(), new SimReport.TimeToTarget(0.99, null), r.updates(), r.bytesUp(), r.bytesDown(), r.peakBytesPerSecond(), r.peakUpBytesPerSecond(), r.peakAfterStartBytesPerSecond(),
                r.staleness(), r.curve(), r.compression());
        JsonNode t = new ObjectMapper().readTree(Reports.toJson(never)).get("time_to_target");
        assertTrue(t.get("virtual_seconds").isNull());
        assertEquals(0.99, t.get("target").asDouble());
    }

    @Test
    void plotGoesBesideTheReport(@TempDir Path dir) throws Exception {
        assertEquals(dir.resolve("run.png"), Reports.pngBeside(dir.resolve("run.json")));
        assertEquals(dir.resolve("run.out.png"), Reports.pngBeside(dir.resolve("run.out")));
        SimReport r = sample();
        Path png = Reports.plot(dir.resolve("run.png"), "synthetic", List.of(r, r), 0.8);
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(900, img.getWidth());
        assertTrue(Files.size(png) > 1000);
    }
}

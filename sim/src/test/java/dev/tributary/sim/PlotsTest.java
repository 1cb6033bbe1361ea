package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PlotsTest {
    @Test
    void writesAReadablePngOfTheRequestedSize(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("sub/curve.png");
        Plots.lineChart(png, "accuracy", "seconds", "accuracy",
                List.of(new Plots.Series("async", List.of(new double[] {0, 0.1}, new double[] {10, 0.8}))), 0.85);
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(900, img.getWidth());
        assertEquals(560, img.getHeight());
        // a drawn curve means more than the background colour appears
        int white = 0xFFFFFFFF;
        boolean nonWhite = false;
        for (int x = 0; x < img.getWidth() && !nonWhite; x += 7) {
            for (int y = 0; y < img.getHeight(); y += 7) {
                if (img.getRGB(x, y) != white) {
                    nonWhite = true;
                    break;
                }
            }
        }
        assertTrue(nonWhite, "the plot is blank");
    }
}

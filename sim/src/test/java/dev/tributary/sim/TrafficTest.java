package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class TrafficTest {
    @Test
    void peakIsTheFullestOneSecondWindow() {
        Traffic t = new Traffic();
        t.add(0.2, 100);
        t.add(0.9, 50);   // same window [0, 1): 150
        t.add(1.0, 120);  // next window
        t.add(3.5, 10);
        assertEquals(150, t.peakPerSecond());
        t.add(1.99, 40);  // [1, 2) now holds 160
        assertEquals(160, t.peakPerSecond());
    }

    @Test
    void negativeBytesAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Traffic().add(0, -1));
        assertEquals("bytes < 0: -1", e.getMessage());
    }
}

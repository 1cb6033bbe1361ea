package dev.tributary.sim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.Arrays;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ClientSpeedsTest {

    @ParameterizedTest
    @CsvSource({"lognormal, 21, 10", "lognormal, 1001, 10", "loguniform, 7, 3.5", "lognormal, 2, 100"})
    void fastestIsSpreadTimesSlowestAndTheMedianIsAsConfigured(String distribution, int clients, double spread) {
        SimConfig.Speeds s = new SimConfig.Speeds(distribution, spread, 250);
        double[] v = ClientSpeeds.draw(s, clients, 3);
        double[] sorted = v.clone();
        Arrays.sort(sorted);
        assertEquals(spread, sorted[clients - 1] / sorted[0], 1e-9 * spread);
        if (clients % 2 == 1) {
            assertEquals(250, sorted[clients / 2], 1e-9);
        } else {
            assertEquals(250, Math.sqrt(sorted[clients / 2 - 1] * sorted[clients / 2]), 1e-9);
        }
        assertArrayEquals(v, ClientSpeeds.draw(s, clients, 3), "not a function of the seed");
        assertFalse(Arrays.equals(v, ClientSpeeds.draw(s, clients, 4)), "the seed changes nothing");
    }

    @ParameterizedTest
    @CsvSource({"constant, 5, 10", "lognormal, 1, 10", "lognormal, 4, 1"})
    void degenerateCasesGiveEveryClientTheMedian(String distribution, int clients, double spread) {
        double[] v = ClientSpeeds.draw(new SimConfig.Speeds(distribution, spread, 40), clients, 0);
        double[] expected = new double[clients];
        Arrays.fill(expected, 40);
        assertArrayEquals(expected, v);
    }
}

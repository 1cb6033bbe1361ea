package dev.tributary.train.partition;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PartitionerTest {

    @Test
    void parsesTheThreeForms() {
        assertEquals("iid", Partitioner.parse("iid").describe());
        assertEquals("dirichlet(0.3)", Partitioner.parse("Dirichlet:0.3").describe());
        assertEquals("shards(2)", Partitioner.parse(" shards:2 ").describe());
    }

    @Test
    void badSpecsAreNamed() {
        assertEquals("partition \"zipf:2\": expected iid, dirichlet:ALPHA or shards:K",
                assertThrows(IllegalArgumentException.class, () -> Partitioner.parse("zipf:2")).getMessage());
        assertEquals("partition \"dirichlet\": expected iid, dirichlet:ALPHA or shards:K",
                assertThrows(IllegalArgumentException.class, () -> Partitioner.parse("dirichlet")).getMessage());
        assertEquals("partition \"shards:x\": x is not a number",
                assertThrows(IllegalArgumentException.class, () -> Partitioner.parse("shards:x")).getMessage());
        assertEquals("dirichlet alpha must be a finite number > 0: -1.0",
                assertThrows(IllegalArgumentException.class, () -> Partitioner.parse("dirichlet:-1")).getMessage());
        assertEquals("shards per client < 1: 0",
                assertThrows(IllegalArgumentException.class, () -> Partitioner.shards(0)).getMessage());
    }

    @Test
    void impossibleSplitsAreRefused() {
        int[] labels = PartitionerProperties.labels(10, 2, 0);
        assertEquals("11 clients need at least 11 examples, got 10", assertThrows(IllegalArgumentException.class,
                () -> Partitioner.iid().split(labels, 11, 0)).getMessage());
        assertEquals("clients < 1: 0", assertThrows(IllegalArgumentException.class,
                () -> Partitioner.iid().split(labels, 0, 0)).getMessage());
        assertEquals("4 clients × 3 shards need at least 12 examples, got 10", assertThrows(
                IllegalArgumentException.class, () -> Partitioner.shards(3).split(labels, 4, 0)).getMessage());
        assertEquals("dirichlet(0.01) over 10 clients and 10 examples left a client empty in 100 draws;"
                        + " use a larger alpha or fewer clients",
                assertThrows(IllegalArgumentException.class,
                        () -> Partitioner.dirichlet(0.01).split(labels, 10, 0)).getMessage());
        assertEquals("label -1 of example 1 is negative", assertThrows(IllegalArgumentException.class,
                () -> Partitioner.iid().split(new int[] {0, -1}, 1, 0)).getMessage());
    }

    @Test
    void gammaVariatesHaveTheRightMean() {
        SplittableRandom rng = new SplittableRandom(3);
        for (double shape : new double[] {0.1, 0.5, 1, 3, 20}) {
            double sum = 0;
            int n = 40_000;
            for (int i = 0; i < n; i++) {
                sum += Math.exp(DirichletPartitioner.logGamma(shape, rng));
            }
            // Gamma(shape, 1) has mean and variance equal to shape; allow five standard errors.
            assertEquals(shape, sum / n, 5 * Math.sqrt(shape / n), "shape " + shape);
        }
    }
}

package dev.tributary.merge.lora;

import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The randomized range finder agrees with the exact SVD on matrices with a decaying spectrum. */
class TruncatedSvdTest {

    private static DMatrixRMaj lowRankPlusNoise(int m, int n, int rank, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        DMatrixRMaj left = new DMatrixRMaj(m, rank);
        DMatrixRMaj right = new DMatrixRMaj(rank, n);
        for (int i = 0; i < left.data.length; i++) {
            left.data[i] = r.nextDouble(-1, 1) * (1 + i % rank);
        }
        for (int i = 0; i < right.data.length; i++) {
            right.data[i] = r.nextDouble(-1, 1);
        }
        DMatrixRMaj a = CommonOps_DDRM.mult(left, right, null);
        for (int i = 0; i < a.data.length; i++) {
            a.data[i] += 1e-6 * r.nextDouble(-1, 1);
        }
        return a;
    }

    @Test
    void randomizedMatchesExactOnTheLeadingTriplets() {
        DMatrixRMaj a = lowRankPlusNoise(300, 220, 6, 11);
        TruncatedSvd.Result exact = TruncatedSvd.exact(a, 6, "a");
        TruncatedSvd.Result approx = TruncatedSvd.randomized(a, 6, 5, "a");
        for (int k = 0; k < 6; k++) {
            assertEquals(exact.sigma()[k], approx.sigma()[k], 1e-9 * exact.sigma()[0], "sigma " + k);
        }
        DMatrixRMaj recon = reconstruct(approx);
        double err = 0;
        for (int i = 0; i < a.data.length; i++) {
            err = Math.max(err, Math.abs(recon.data[i] - a.data[i]));
        }
        assertTrue(err < 1e-4, "max reconstruction error " + err);
    }

    @Test
    void exactSingularValuesAreDescendingAndComplete() {
        DMatrixRMaj a = lowRankPlusNoise(12, 9, 9, 3);
        TruncatedSvd.Result full = TruncatedSvd.exact(a, 9, "a");
        for (int k = 1; k < full.sigma().length; k++) {
            assertTrue(full.sigma()[k - 1] >= full.sigma()[k]);
        }
        DMatrixRMaj recon = reconstruct(full);
        for (int i = 0; i < a.data.length; i++) {
            assertEquals(a.data[i], recon.data[i], 1e-12);
        }
    }

    @Test
    void largeMatricesWithSmallRankTakeTheRandomizedPath() {
        DMatrixRMaj a = lowRankPlusNoise(TruncatedSvd.RANDOMIZED_ABOVE + 40, TruncatedSvd.RANDOMIZED_ABOVE + 8, 3, 9);
        TruncatedSvd.Result r = TruncatedSvd.top(a, 3, 1, "a");
        TruncatedSvd.Result same = TruncatedSvd.randomized(a, 3, 1, "a");
        assertEquals(same.sigma()[0], r.sigma()[0]);
        assertEquals(3, r.sigma().length);
    }

    private static DMatrixRMaj reconstruct(TruncatedSvd.Result r) {
        DMatrixRMaj us = r.u().copy();
        for (int i = 0; i < us.numRows; i++) {
            for (int k = 0; k < us.numCols; k++) {
                us.set(i, k, us.get(i, k) * r.sigma()[k]);
            }
        }
        return CommonOps_DDRM.mult(us, r.vt(), null);
    }
}

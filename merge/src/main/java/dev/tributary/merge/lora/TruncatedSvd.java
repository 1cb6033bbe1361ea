package dev.tributary.merge.lora;

import dev.tributary.merge.MergeException;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.CommonOps_DDRM;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.QRDecomposition;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

import java.util.SplittableRandom;

/**
 * The k largest singular triplets of a matrix, in f64 with EJML: an exact SVD for small matrices, and for
 * large ones when k is small next to them the randomized range finder of Halko, Martinsson and Tropp
 * (Gaussian sketch of k + 10 columns, two power iterations with re-orthonormalization, exact SVD of the
 * small projected matrix). The sketch is seeded, so results are reproducible.
 */
final class TruncatedSvd {
    /** Smallest dimension above which the randomized method is used (when k is small enough). */
    static final int RANDOMIZED_ABOVE = 1024;
    private static final int OVERSAMPLE = 10;
    private static final int POWER_ITERATIONS = 2;

    /**
     * @param sigma singular values, descending
     * @param u     left singular vectors, one per column (m × k)
     * @param vt    right singular vectors, one per row (k × n)
     */
    record Result(double[] sigma, DMatrixRMaj u, DMatrixRMaj vt) {}

    private TruncatedSvd() {}

    /** The top {@code k} triplets of {@code a} (m × n), choosing the method by size. */
    static Result top(DMatrixRMaj a, int k, long seed, String what) {
        int small = Math.min(a.numRows, a.numCols);
        k = Math.min(k, small);
        if (small > RANDOMIZED_ABOVE && k + OVERSAMPLE <= small / 2) {
            return randomized(a, k, seed, what);
        }
        return exact(a, k, what);
    }

    static Result exact(DMatrixRMaj a, int k, String what) {
        int m = a.numRows;
        int n = a.numCols;
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(m, n, true, true, true);
        if (!svd.decompose(svd.inputModified() ? a.copy() : a)) {
            throw new MergeException(what + ": SVD did not converge");
        }
        DMatrixRMaj u = svd.getU(null, false);
        DMatrixRMaj w = svd.getW(null);
        DMatrixRMaj v = svd.getV(null, false);
        SingularOps_DDRM.descendingOrder(u, false, w, v, false);
        int kk = Math.min(k, w.numRows);
        double[] sigma = new double[kk];
        for (int i = 0; i < kk; i++) {
            sigma[i] = w.get(i, i);
        }
        DMatrixRMaj uk = CommonOps_DDRM.extract(u, 0, m, 0, kk);
        DMatrixRMaj vk = CommonOps_DDRM.extract(v, 0, n, 0, kk);
        return new Result(sigma, uk, CommonOps_DDRM.transpose(vk, null));
    }

    static Result randomized(DMatrixRMaj a, int k, long seed, String what) {
        int m = a.numRows;
        int n = a.numCols;
        int l = Math.min(k + OVERSAMPLE, Math.min(m, n));
        SplittableRandom random = new SplittableRandom(seed);
        DMatrixRMaj omega = new DMatrixRMaj(n, l);
        for (int i = 0; i < omega.data.length; i++) {
            omega.data[i] = gaussian(random);
        }
        DMatrixRMaj q = orthonormal(CommonOps_DDRM.mult(a, omega, null), what);
        for (int it = 0; it < POWER_ITERATIONS; it++) {
            DMatrixRMaj z = orthonormal(CommonOps_DDRM.multTransA(a, q, null), what);
            q = orthonormal(CommonOps_DDRM.mult(a, z, null), what);
        }
        DMatrixRMaj b = CommonOps_DDRM.multTransA(q, a, null);
        Result small = exact(b, k, what);
        return new Result(small.sigma(), CommonOps_DDRM.mult(q, small.u(), null), small.vt());
    }

    private static DMatrixRMaj orthonormal(DMatrixRMaj y, String what) {
        QRDecomposition<DMatrixRMaj> qr = DecompositionFactory_DDRM.qr(y.numRows, y.numCols);
        if (!qr.decompose(y)) {
            throw new MergeException(what + ": QR decomposition failed");
        }
        return qr.getQ(null, true);
    }

    private static double gaussian(SplittableRandom r) {
        double u1 = r.nextDouble();
        double u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log1p(-u1)) * Math.cos(2 * Math.PI * u2);
    }
}

package dev.tributary.rl.policy;

import java.util.SplittableRandom;

/**
 * Orthogonal initialization (Saxe et al. 2014), as {@code torch.nn.init.orthogonal_} defines it: a Gaussian
 * matrix made orthonormal along its shorter side, times a gain. Gram-Schmidt on the columns of the taller
 * orientation gives the Q of a QR decomposition with a positive diagonal in R.
 */
final class Orthogonal {
    private Orthogonal() {}

    /** A {@code rows × cols} matrix, row-major, with orthonormal rows or columns (whichever are fewer) times {@code gain}. */
    static float[] matrix(int rows, int cols, double gain, SplittableRandom rng) {
        int tall = Math.max(rows, cols);
        int wide = Math.min(rows, cols);
        double[][] q = new double[wide][tall]; // columns of the tall × wide matrix
        for (double[] column : q) {
            for (int i = 0; i < tall; i++) {
                column[i] = rng.nextGaussian();
            }
        }
        for (int j = 0; j < wide; j++) {
            for (int k = 0; k < j; k++) {
                double dot = dot(q[j], q[k]);
                for (int i = 0; i < tall; i++) {
                    q[j][i] -= dot * q[k][i];
                }
            }
            double norm = Math.sqrt(dot(q[j], q[j]));
            for (int i = 0; i < tall; i++) {
                q[j][i] /= norm;
            }
        }
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                double v = rows >= cols ? q[c][r] : q[r][c];
                out[r * cols + c] = (float) (gain * v);
            }
        }
        return out;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }
}

package dev.tributary.replay;

import java.util.Arrays;

/**
 * Non-negative weights at positions 0..n−1 with their prefix sums in a binary tree: setting a weight and
 * finding the position a point of [0, total) falls in are O(log n). Each inner node is recomputed from its
 * two children on every change, so the sums never drift.
 */
final class SumTree {
    private int capacity;
    private double[] tree;

    SumTree(int capacity) {
        int c = 1;
        while (c < capacity) {
            c <<= 1;
        }
        this.capacity = c;
        this.tree = new double[2 * this.capacity];
    }

    double total() {
        return tree[1];
    }

    double get(int i) {
        return i < capacity ? tree[capacity + i] : 0;
    }

    void set(int i, double w) {
        if (!(w >= 0) || !Double.isFinite(w)) {
            throw new IllegalArgumentException("weight " + w + " at " + i + ": must be finite and >= 0");
        }
        while (i >= capacity) {
            grow();
        }
        int k = capacity + i;
        tree[k] = w;
        for (k >>= 1; k >= 1; k >>= 1) {
            tree[k] = tree[2 * k] + tree[2 * k + 1];
        }
    }

    /**
     * The position whose interval holds {@code target}: the first i with {@code target < w_0 + … + w_i},
     * never one of weight zero; a target at or past the total (rounding) gives the last positive weight.
     * Needs {@code total() > 0}.
     */
    int find(double target) {
        int k = 1;
        while (k < capacity) {
            double left = tree[2 * k];
            if (target < left || !(tree[2 * k + 1] > 0)) {
                k = 2 * k;
            } else {
                target -= left;
                k = 2 * k + 1;
            }
        }
        return k - capacity;
    }

    private void grow() {
        double[] leaves = Arrays.copyOfRange(tree, capacity, 2 * capacity);
        capacity *= 2;
        tree = new double[2 * capacity];
        System.arraycopy(leaves, 0, tree, capacity, leaves.length);
        for (int k = capacity - 1; k >= 1; k--) {
            tree[k] = tree[2 * k] + tree[2 * k + 1];
        }
    }
}

package dev.tributary.replay;

import java.time.Duration;
import java.util.Objects;

/**
 * When a table lets samples and inserts through, exactly as Reverb's {@code RateLimiter} decides it
 * (reverb/cc/rate_limiter.cc), over the table's counts of inserts, deletes (removals and evictions) and
 * samples since it was created:
 * <ul>
 *   <li>a sample of one item may proceed when {@code inserts − deletes ≥ minSizeToSample} and
 *       {@code inserts × samplesPerInsert − samples − 1 ≥ minDiff};</li>
 *   <li>an insert may proceed while {@code inserts + 1 − deletes ≤ minSizeToSample} (the table is still
 *       filling), and otherwise when {@code (inserts + 1) × samplesPerInsert − samples ≤ maxDiff}.</li>
 * </ul>
 * Whichever side is ahead waits: a sample for at most the timeout its caller gives, an insert for at most
 * {@link #insertTimeout} (zero, the default: refused at once with the reason, so that an actor backs off
 * instead of holding a thread).
 *
 * <p>The factories are Reverb's: {@link #minSize}, {@link #sampleToInsertRatio} and {@link #queue}.
 */
public record RateLimiter(double samplesPerInsert, long minSizeToSample, double minDiff, double maxDiff,
        Duration insertTimeout) {
    public RateLimiter {
        if (!(samplesPerInsert > 0) || !Double.isFinite(samplesPerInsert)) {
            throw new IllegalArgumentException("samplesPerInsert " + samplesPerInsert + ": must be finite and > 0");
        }
        if (minSizeToSample < 1) {
            throw new IllegalArgumentException("minSizeToSample " + minSizeToSample + ": must be >= 1");
        }
        if (Double.isNaN(minDiff) || Double.isNaN(maxDiff) || minDiff > maxDiff) {
            throw new IllegalArgumentException("minDiff " + minDiff + ", maxDiff " + maxDiff + ": need minDiff <= maxDiff");
        }
        Objects.requireNonNull(insertTimeout, "insertTimeout");
        if (insertTimeout.isNegative()) {
            throw new IllegalArgumentException("insertTimeout " + insertTimeout + ": must be >= 0");
        }
    }

    /** Blocks sampling until the table holds {@code minSizeToSample} items; never blocks inserts. */
    public static RateLimiter minSize(long minSizeToSample) {
        return new RateLimiter(1.0, minSizeToSample, -Double.MAX_VALUE, Double.MAX_VALUE, Duration.ZERO);
    }

    /**
     * Keeps {@code (inserts × samplesPerInsert − samples)} within {@code errorBuffer} of
     * {@code minSizeToSample × samplesPerInsert} once the table holds {@code minSizeToSample} items.
     *
     * @throws IllegalArgumentException as Reverb's {@code SampleToInsertRatio} raises ValueError: the
     *     buffer is narrower than {@code 2 × max(1, samplesPerInsert)}, or {@code minSizeToSample < 1}
     */
    public static RateLimiter sampleToInsertRatio(double samplesPerInsert, long minSizeToSample, double errorBuffer) {
        double offset = samplesPerInsert * minSizeToSample;
        return sampleToInsertRatio(samplesPerInsert, minSizeToSample, offset - errorBuffer, offset + errorBuffer);
    }

    /** {@link #sampleToInsertRatio(double, long, double)} with the range given as is, without the offset. */
    public static RateLimiter sampleToInsertRatio(double samplesPerInsert, long minSizeToSample, double minDiff,
            double maxDiff) {
        if (!(maxDiff - minDiff >= 2 * Math.max(1.0, samplesPerInsert))) {
            throw new IllegalArgumentException("error buffer [" + minDiff + ", " + maxDiff + "]: its size must be >= "
                    + "2 × max(1, samplesPerInsert) = " + 2 * Math.max(1.0, samplesPerInsert)
                    + ", or samples or inserts could be blocked for good");
        }
        if (minDiff > samplesPerInsert * minSizeToSample) {
            throw new IllegalArgumentException("error buffer [" + minDiff + ", " + maxDiff + "]: lies above samplesPerInsert"
                    + " × minSizeToSample = " + samplesPerInsert * minSizeToSample + ": sampling would never start");
        }
        return new RateLimiter(samplesPerInsert, minSizeToSample, minDiff, maxDiff, Duration.ZERO);
    }

    /**
     * Reverb's queue limiter: at most {@code size} items inserted and not yet sampled, and a sample only
     * when there is one; used with the FIFO sampler, see {@link TableConfig#fifoQueue}.
     */
    public static RateLimiter queue(long size) {
        if (size < 1) {
            throw new IllegalArgumentException("queue size " + size + ": must be >= 1");
        }
        return new RateLimiter(1.0, 1, 0.0, size, Duration.ZERO);
    }

    /** The same limiter, with inserts waiting up to {@code timeout} (zero: refused at once). */
    public RateLimiter withInsertTimeout(Duration timeout) {
        return new RateLimiter(samplesPerInsert, minSizeToSample, minDiff, maxDiff, timeout);
    }

    /** Whether {@code n ≥ 1} more samples may proceed now. */
    public boolean canSample(long inserts, long deletes, long samples, long n) {
        return whyNotSample(inserts, deletes, samples, n) == null;
    }

    /** Whether {@code n ≥ 1} more inserts may proceed now. */
    public boolean canInsert(long inserts, long deletes, long samples, long n) {
        return whyNotInsert(inserts, deletes, samples, n) == null;
    }

    /** Why {@code n} samples must wait, in one line; null when they may proceed. */
    public String whyNotSample(long inserts, long deletes, long samples, long n) {
        positive(n);
        if (inserts - deletes < minSizeToSample) {
            return "rate limiter: the table holds " + (inserts - deletes) + " items, fewer than the " + minSizeToSample
                    + " sampling needs";
        }
        double diff = inserts * samplesPerInsert - samples - n;
        if (diff < minDiff) {
            return "rate limiter: " + n + " more samples would put inserts × " + samplesPerInsert + " − samples at " + diff
                    + " < " + minDiff + " (sampling is ahead of inserts)";
        }
        return null;
    }

    /** Why {@code n} inserts must wait, in one line; null when they may proceed. */
    public String whyNotInsert(long inserts, long deletes, long samples, long n) {
        positive(n);
        if (inserts + n - deletes <= minSizeToSample) {
            return null;
        }
        double diff = (inserts + n) * samplesPerInsert - samples;
        if (diff > maxDiff) {
            return "rate limiter: " + n + " more inserts would put inserts × " + samplesPerInsert + " − samples at " + diff
                    + " > " + maxDiff + " (inserts are ahead of sampling)";
        }
        return null;
    }

    private static void positive(long n) {
        if (n < 1) {
            throw new IllegalArgumentException("n < 1: " + n);
        }
    }
}

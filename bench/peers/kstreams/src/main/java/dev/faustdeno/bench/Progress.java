package dev.faustdeno.bench;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts fully processed input events and stamps the monotonic time at which the
 * count reached the warm-up mark W and the expected total N. {@link #add()} is
 * called from one hot thread (the stream thread for `count`, the producer's I/O
 * thread for `forward`); the main thread waits on the latches and prints.
 */
final class Progress {
  private final long warmup;
  private final long expect;
  private final AtomicLong processed = new AtomicLong();
  private final CountDownLatch warm = new CountDownLatch(1);
  private final CountDownLatch done = new CountDownLatch(1);
  private volatile long warmNanos;
  private volatile long doneNanos;

  /**
   * @param warmup W, events processed before the timed part starts (0 = from `ready`)
   * @param expect N, total events the run waits for
   */
  Progress(long warmup, long expect) {
    this.warmup = warmup;
    this.expect = expect;
  }

  /** One more input event fully processed. */
  void add() {
    long n = processed.incrementAndGet();
    if (n == warmup) {
      warmNanos = System.nanoTime();
      warm.countDown();
    }
    if (n == expect) {
      doneNanos = System.nanoTime();
      done.countDown();
    }
  }

  /** Starts the timed part now (used when W = 0: the clock starts at `ready`). */
  void markWarmNow() {
    if (warm.getCount() > 0) {
      warmNanos = System.nanoTime();
      warm.countDown();
    }
  }

  /** @return events processed so far */
  long processed() {
    return processed.get();
  }

  /** @return true once W events were processed, waiting at most `millis` */
  boolean awaitWarm(long millis) throws InterruptedException {
    return warm.await(millis, TimeUnit.MILLISECONDS);
  }

  /** @return true once N events were processed, waiting at most `millis` */
  boolean awaitDone(long millis) throws InterruptedException {
    return done.await(millis, TimeUnit.MILLISECONDS);
  }

  /** @return seconds from the W-th to the N-th event (valid after done) */
  double seconds() {
    return (doneNanos - warmNanos) / 1e9;
  }
}

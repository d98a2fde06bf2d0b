package dev.faustdeno.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StoreQueryParameters;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.kstream.Windowed;
import org.apache.kafka.streams.processor.StateRestoreListener;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.QueryableStoreTypes;
import org.apache.kafka.streams.state.ReadOnlyKeyValueStore;
import org.apache.kafka.streams.state.ReadOnlyWindowStore;
import org.apache.kafka.streams.state.WindowStore;
import sun.misc.Signal;

/**
 * The Kafka Streams peer of the side-by-side benchmarks (bench/peers/, protocol in
 * the project's bench notes). Workloads:
 *
 * <ul>
 *   <li>{@code forward}: input -> JSON decode -> {id, word, n2 = n * 2} -> output, same key.
 *   <li>{@code count}: input -> groupByKey -> count() into the persistent RocksDB store
 *       "counts" (changelog topic {@code <app-id>-counts-changelog}).
 *   <li>{@code window}: input -> groupByKey -> 1-minute tumbling windows (record timestamps)
 *       -> aggregate(sum of n) into the persistent window store "wsum".
 * </ul>
 *
 * <p>{@code --cache-bytes B} sets {@code statestore.cache.max.bytes} (0 = record cache off, the
 * default here; Kafka Streams' own default is 10485760).
 *
 * stdout carries only the protocol's JSON lines (ready, warm, done); logs go to stderr.
 */
public final class PeerApp {
  /** Name of the count store; its changelog topic is {@code <app-id>-counts-changelog}. */
  static final String STORE = "counts";

  /** Name of the window store of the {@code window} workload. */
  static final String WSTORE = "wsum";

  /** Size of the tumbling windows (the bench protocol's 1 minute). */
  static final Duration WINDOW = Duration.ofMinutes(1);

  private static final ObjectMapper JSON = new ObjectMapper();

  /** Input value of both workloads: {"id": i, "word": "k<i%K>", "n": i % 100}. */
  record In(long id, String word, long n) {}

  /** Output value of `forward`: {"id": id, "word": word, "n2": n * 2}. */
  record Out(long id, String word, long n2) {}

  private PeerApp() {}

  /**
   * Entry point; see {@link Args} for the command line.
   *
   * @param argv the protocol's command line
   */
  public static void main(String[] argv) throws Exception {
    long mainAtMs = ManagementFactory.getRuntimeMXBean().getUptime();
    Args args = Args.parse(argv);
    Progress progress = new Progress(args.warmup, args.expect);

    CountDownLatch stop = new CountDownLatch(1);
    Signal.handle(new Signal("TERM"), sig -> stop.countDown());
    Signal.handle(new Signal("INT"), sig -> stop.countDown());

    StreamsBuilder builder = new StreamsBuilder();
    if (args.workload.equals("forward")) {
      buildForward(builder, args);
      AckCounter.topic = args.output;
      AckCounter.progress = progress;
    } else if (args.workload.equals("window")) {
      buildWindow(builder, args, progress);
    } else {
      buildCount(builder, args, progress);
    }
    Topology topology = builder.build();
    log("topology:\n" + topology.describe());

    AtomicReference<KafkaStreams.State> state = new AtomicReference<>(KafkaStreams.State.CREATED);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Restores restores = new Restores();

    KafkaStreams streams = new KafkaStreams(topology, config(args));
    streams.setGlobalStateRestoreListener(restores);
    streams.setStateListener((now, before) -> {
      state.set(now);
      log("state " + before + " -> " + now);
    });
    streams.setUncaughtExceptionHandler(e -> {
      failure.compareAndSet(null, e);
      log("stream thread failed: " + e);
      e.printStackTrace();
      return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    streams.start();

    int exit = 0;
    try {
      // ready: the client is RUNNING (partitions assigned, tasks restored) and no
      // changelog restoration is still in flight.
      if (!waitFor(() -> state.get() == KafkaStreams.State.RUNNING && restores.idle(), stop, state, failure)) {
        exit = shutdown(streams, stop, failure);
        System.exit(exit);
      }
      long readyMs = ManagementFactory.getRuntimeMXBean().getUptime();
      emit("{\"event\":\"ready\",\"recovered\":" + restores.restored.get() + "}");
      log(String.format(Locale.ROOT,
          "ready: JVM uptime %d ms at main(), %d ms at ready; %d changelog records restored in %d ms",
          mainAtMs, readyMs, restores.restored.get(), restores.millis()));

      if (args.expect > 0) {
        if (args.warmup == 0) progress.markWarmNow();
        if (!waitFor(() -> awaitQuietly(progress, true), stop, state, failure)) {
          System.exit(shutdown(streams, stop, failure));
        }
        emit("{\"event\":\"warm\",\"processed\":" + args.warmup + "}");
        if (!waitFor(() -> awaitQuietly(progress, false), stop, state, failure)) {
          System.exit(shutdown(streams, stop, failure));
        }
        String result = switch (args.workload) {
          case "forward" -> "{\"produced\":" + progress.processed() + "}";
          case "window" -> settled(() -> readWindows(streams), stop);
          default -> args.cacheBytes == 0 ? readCounts(streams) : settled(() -> readCounts(streams), stop);
        };
        emit(String.format(Locale.ROOT, "{\"event\":\"done\",\"processed\":%d,\"seconds\":%.6f,\"result\":%s}",
            args.expect, progress.seconds(), result));
      }
      // Idle until SIGTERM (or a failure of Streams).
      waitFor(() -> false, stop, state, failure, 200);
      exit = shutdown(streams, stop, failure);
    } catch (RuntimeException e) {
      log("failed: " + e);
      e.printStackTrace();
      streams.close(Duration.ofSeconds(10));
      exit = 1;
    }
    System.exit(exit);
  }

  /** forward: stream(input) -> mapValues(decode, map, encode) -> to(output). */
  static void buildForward(StreamsBuilder builder, Args args) {
    builder.stream(args.input, Consumed.with(Serdes.String(), Serdes.String()))
        .mapValues(PeerApp::forwardValue)
        .to(args.output, Produced.with(Serdes.String(), Serdes.String()));
  }

  /** Decodes one input value, maps it and encodes the output value (Jackson databind). */
  static String forwardValue(String value) {
    try {
      In in = JSON.readValue(value, In.class);
      return JSON.writeValueAsString(new Out(in.id(), in.word(), in.n() * 2));
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("input value is not the expected JSON {id, word, n}: " + value, e);
    }
  }

  /**
   * count: groupByKey (the key is the word, so no repartition topic) -> count() into
   * the persistent RocksDB store "counts". The peek after the table counts an event as
   * processed once its store update (and changelog send) happened; with the record
   * cache off every update is forwarded, so the peek sees every input event.
   */
  static void buildCount(StreamsBuilder builder, Args args, Progress progress) {
    var input = builder.stream(args.input, Consumed.with(Serdes.String(), Serdes.String()));
    // With the record cache on, count() forwards only some updates: the event is then
    // counted as it enters the aggregation, and `done` waits for the store to settle.
    if (args.cacheBytes > 0) input = input.peek((word, value) -> progress.add());
    var counts = input
        .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
        .count(Materialized.<String, Long, KeyValueStore<Bytes, byte[]>>as(STORE)
            .withKeySerde(Serdes.String())
            .withValueSerde(Serdes.Long()));
    if (args.cacheBytes == 0) counts.toStream().peek((word, count) -> progress.add());
  }

  /**
   * window: groupByKey -> tumbling 1-minute windows on the record timestamps (grace 1 h:
   * the input is in order per partition, nothing is late) -> aggregate the sum of n into
   * the persistent window store "wsum", kept 1 day so every window can be read at the end.
   * Events are counted as they enter the aggregation (the cache may hold updates back).
   */
  static void buildWindow(StreamsBuilder builder, Args args, Progress progress) {
    builder.stream(args.input, Consumed.with(Serdes.String(), Serdes.String()))
        .peek((word, value) -> progress.add())
        .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
        .windowedBy(TimeWindows.ofSizeAndGrace(WINDOW, Duration.ofHours(1)))
        .aggregate(() -> 0L, (word, value, sum) -> sum + decode(value).n(),
            Materialized.<String, Long, WindowStore<Bytes, byte[]>>as(WSTORE)
                .withKeySerde(Serdes.String())
                .withValueSerde(Serdes.Long())
                .withRetention(Duration.ofDays(1)));
  }

  static In decode(String value) {
    try {
      return JSON.readValue(value, In.class);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("input value is not the expected JSON {id, word, n}: " + value, e);
    }
  }

  /** A store read for the result. */
  interface Read {
    String get();
  }

  /**
   * The store's result once two reads 100 ms apart agree: the N-th event was counted as it
   * entered the aggregation, its store update follows on the stream thread. Bounded: 60 s.
   */
  static String settled(Read read, CountDownLatch stop) {
    String last = read.get();
    try {
      for (int i = 0; i < 600; i++) {
        if (stop.await(100, TimeUnit.MILLISECONDS)) break;
        String now = read.get();
        if (now.equals(last)) return now;
        last = now;
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    log("store did not settle within 60 s; last read " + last);
    return last;
  }

  /**
   * Reads every window of "wsum": pairs (key, window), total of the sums, min, max and
   * the protocol's weighted checksum sum(value * (keyIndex + 1) * (windowStartMinute % 7 + 1)).
   */
  static String readWindows(KafkaStreams streams) {
    ReadOnlyWindowStore<String, Long> store =
        streams.store(StoreQueryParameters.fromNameAndType(WSTORE, QueryableStoreTypes.<String, Long>windowStore()));
    long pairs = 0;
    long total = 0;
    long min = 0;
    long max = 0;
    long weighted = 0;
    try (KeyValueIterator<Windowed<String>, Long> it = store.all()) {
      while (it.hasNext()) {
        KeyValue<Windowed<String>, Long> kv = it.next();
        long v = kv.value;
        min = pairs == 0 ? v : Math.min(min, v);
        max = pairs == 0 ? v : Math.max(max, v);
        pairs++;
        total += v;
        long keyIndex = Long.parseLong(kv.key.key().substring(1));
        long minute = kv.key.window().start() / 60_000L;
        weighted += v * (keyIndex + 1) * (minute % 7 + 1);
      }
    }
    return "{\"pairs\":" + pairs + ",\"total\":" + total + ",\"min\":" + min + ",\"max\":" + max
        + ",\"weighted\":" + weighted + "}";
  }

  /** The Streams configuration shared by both workloads (bench protocol settings). */
  static Properties config(Args args) {
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, args.appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args.bootstrap);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 1);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.AT_LEAST_ONCE);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 2800); // Faust's broker_commit_interval
    p.put(StreamsConfig.STATE_DIR_CONFIG, args.stateDir);
    // --cache-bytes 0 (default here): record cache off, every count update goes to
    // the store and its changelog (one changelog record per input event). With a cache
    // (Streams' default is 10 MB) updates are compacted per key in memory and written
    // to the store and changelog on commit or eviction.
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, args.cacheBytes);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.StringSerde.class);
    if (args.workload.equals("forward")) {
      p.put(StreamsConfig.producerPrefix(ProducerConfig.INTERCEPTOR_CLASSES_CONFIG), AckCounter.class.getName());
    }
    return p;
  }

  /** Reads keys/total/min/max from the "counts" store by interactive query. */
  static String readCounts(KafkaStreams streams) {
    ReadOnlyKeyValueStore<String, Long> store =
        streams.store(StoreQueryParameters.fromNameAndType(STORE, QueryableStoreTypes.<String, Long>keyValueStore()));
    long keys = 0;
    long total = 0;
    long min = 0;
    long max = 0;
    try (KeyValueIterator<String, Long> it = store.all()) {
      while (it.hasNext()) {
        KeyValue<String, Long> kv = it.next();
        long c = kv.value;
        min = keys == 0 ? c : Math.min(min, c);
        max = keys == 0 ? c : Math.max(max, c);
        keys++;
        total += c;
      }
    }
    return "{\"keys\":" + keys + ",\"total\":" + total + ",\"min\":" + min + ",\"max\":" + max + "}";
  }

  /** Closes Streams (commit, checkpoint, leave the group) and returns the exit code. */
  static int shutdown(KafkaStreams streams, CountDownLatch stop, AtomicReference<Throwable> failure) {
    log(stop.getCount() == 0 ? "SIGTERM: closing" : "closing");
    // LEAVE_GROUP: Streams' consumers otherwise stay in the group until the session
    // timeout (45 s), and a restart with the same app id (recover runs) would wait
    // for that in its first rebalance.
    boolean clean = streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
        .withTimeout(Duration.ofSeconds(25)));
    log(clean ? "closed" : "close timed out");
    return clean && failure.get() == null ? 0 : 1;
  }

  /** A condition checked by {@link #waitFor}. */
  interface Check {
    boolean met() throws InterruptedException;
  }

  /**
   * Waits until `check` holds; returns false (caller shuts down) on SIGTERM, a stream
   * thread failure, or Streams leaving RUNNING/REBALANCING for ERROR/NOT_RUNNING.
   */
  static boolean waitFor(Check check, CountDownLatch stop, AtomicReference<KafkaStreams.State> state,
      AtomicReference<Throwable> failure) throws InterruptedException {
    return waitFor(check, stop, state, failure, 2);
  }

  /** {@link #waitFor(Check, CountDownLatch, AtomicReference, AtomicReference)} polling every `pollMs`. */
  static boolean waitFor(Check check, CountDownLatch stop, AtomicReference<KafkaStreams.State> state,
      AtomicReference<Throwable> failure, long pollMs) throws InterruptedException {
    while (true) {
      if (check.met()) return true;
      if (stop.getCount() == 0 || failure.get() != null) return false;
      KafkaStreams.State s = state.get();
      if (s == KafkaStreams.State.ERROR || s == KafkaStreams.State.NOT_RUNNING || s == KafkaStreams.State.PENDING_ERROR) {
        failure.compareAndSet(null, new IllegalStateException("Kafka Streams went to " + s));
        return false;
      }
      if (stop.await(pollMs, TimeUnit.MILLISECONDS)) return false;
    }
  }

  /** Waits a short while for the warm (true) or done (false) mark. */
  static boolean awaitQuietly(Progress progress, boolean warm) throws InterruptedException {
    return warm ? progress.awaitWarm(20) : progress.awaitDone(20);
  }

  /** One protocol line on stdout. */
  static void emit(String json) {
    System.out.println(json);
    System.out.flush();
  }

  /** A log line on stderr. */
  static void log(String message) {
    System.err.println("kstreams-peer: " + message);
  }

  /** Tracks changelog restoration (all stores) for `ready` and `recovered`. */
  static final class Restores implements StateRestoreListener {
    final AtomicLong restored = new AtomicLong();
    private final Map<TopicPartition, Long> inFlight = new HashMap<>();
    private long firstStartNanos;
    private long lastEndNanos;

    @Override
    public synchronized void onRestoreStart(TopicPartition tp, String store, long start, long end) {
      if (firstStartNanos == 0) firstStartNanos = System.nanoTime();
      inFlight.put(tp, end);
      log("restoring " + store + " from " + tp + " offsets " + start + ".." + end);
    }

    @Override
    public void onBatchRestored(TopicPartition tp, String store, long batchEndOffset, long numRestored) {}

    @Override
    public synchronized void onRestoreEnd(TopicPartition tp, String store, long totalRestored) {
      inFlight.remove(tp);
      restored.addAndGet(totalRestored);
      lastEndNanos = System.nanoTime();
      log("restored " + totalRestored + " records of " + store + " from " + tp);
    }

    @Override
    public synchronized void onRestoreSuspended(TopicPartition tp, String store, long totalRestored) {
      inFlight.remove(tp);
      restored.addAndGet(totalRestored);
    }

    synchronized boolean idle() {
      return inFlight.isEmpty();
    }

    synchronized long millis() {
      return firstStartNanos == 0 ? 0 : (lastEndNanos - firstStartNanos) / 1_000_000;
    }
  }

  /** The protocol's command line. */
  static final class Args {
    String workload;
    String bootstrap;
    String input;
    String output;
    String appId;
    long expect = -1;
    long warmup = 0;
    String stateDir;
    long cacheBytes = 0;

    static Args parse(String[] argv) {
      Args a = new Args();
      for (int i = 0; i < argv.length; i++) {
        String flag = argv[i];
        if (i + 1 >= argv.length) usage("missing value after " + flag);
        String v = argv[++i];
        switch (flag) {
          case "--workload" -> a.workload = v;
          case "--bootstrap" -> a.bootstrap = v;
          case "--input" -> a.input = v;
          case "--output" -> a.output = v;
          case "--app-id" -> a.appId = v;
          case "--expect" -> a.expect = number(flag, v);
          case "--warmup" -> a.warmup = number(flag, v);
          case "--state-dir" -> a.stateDir = v;
          case "--cache-bytes" -> a.cacheBytes = number(flag, v);
          default -> usage("unknown option " + flag);
        }
      }
      if (!"forward".equals(a.workload) && !"count".equals(a.workload) && !"window".equals(a.workload)) {
        usage("--workload must be forward, count or window, got " + a.workload);
      }
      if (a.bootstrap == null || a.input == null || a.appId == null || a.stateDir == null || a.expect < 0) {
        usage("--bootstrap, --input, --app-id, --state-dir and --expect are required");
      }
      if (a.workload.equals("forward") && a.output == null) usage("--output is required for forward");
      if (a.expect == 0) a.warmup = 0; // recover runs: ready, then idle
      if (a.warmup > a.expect) usage("--warmup " + a.warmup + " is larger than --expect " + a.expect);
      return a;
    }

    static long number(String flag, String v) {
      try {
        long n = Long.parseLong(v);
        if (n < 0) usage(flag + " must be >= 0, got " + v);
        return n;
      } catch (NumberFormatException e) {
        usage(flag + " must be a whole number, got " + v);
        return 0;
      }
    }

    static void usage(String problem) {
      System.err.println("kstreams-peer: " + problem + "\nusage: PeerApp --workload forward|count|window"
          + " --bootstrap HOST:PORT --input TOPIC --output TOPIC --app-id ID --expect N --warmup W"
          + " --state-dir DIR [--cache-bytes B]");
      System.exit(2);
    }
  }
}

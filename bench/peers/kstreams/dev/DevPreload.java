// Dev-only helper for trying the Kafka Streams peer by hand (the harness has its
// own pre-loader). Run as a single-file program with the peer's jars:
//
//   java -cp "target/lib/*" dev/DevPreload.java load BOOTSTRAP INPUT OUTPUT N [K]
//       creates INPUT and OUTPUT (4 partitions each) and writes the protocol's N
//       records to INPUT: key "k<i%K>", value {"id":i,"word":"k<i%K>","n":i%100},
//       partitioned by Kafka's default (murmur2 of the key).
//   java -cp "target/lib/*" dev/DevPreload.java hw BOOTSTRAP TOPIC
//       prints the sum of TOPIC's high-water marks.
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class DevPreload {
  public static void main(String[] args) throws Exception {
    switch (args[0]) {
      case "load" -> load(args[1], args[2], args[3], Long.parseLong(args[4]),
          args.length > 5 ? Integer.parseInt(args[5]) : 10_000);
      case "hw" -> System.out.println(highWater(args[1], args[2]));
      default -> throw new IllegalArgumentException("mode must be load or hw, got " + args[0]);
    }
  }

  static void load(String bootstrap, String input, String output, long n, int k) throws Exception {
    Properties a = new Properties();
    a.put("bootstrap.servers", bootstrap);
    try (Admin admin = Admin.create(a)) {
      for (String t : List.of(input, output)) {
        try {
          admin.createTopics(List.of(new NewTopic(t, 4, (short) 1))).all().get();
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) throw e;
        }
      }
    }
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.LINGER_MS_CONFIG, 20);
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
    long t0 = System.nanoTime();
    try (KafkaProducer<byte[], byte[]> producer =
        new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
      for (long i = 0; i < n; i++) {
        String word = "k" + (i % k);
        String value = "{\"id\":" + i + ",\"word\":\"" + word + "\",\"n\":" + (i % 100) + "}";
        producer.send(new ProducerRecord<>(input, word.getBytes(StandardCharsets.UTF_8),
            value.getBytes(StandardCharsets.UTF_8)));
      }
      producer.flush();
    }
    System.err.printf("loaded %d records into %s in %.1f s; high-water sum %d%n", n, input,
        (System.nanoTime() - t0) / 1e9, highWater(bootstrap, input));
  }

  static long highWater(String bootstrap, String topic) throws Exception {
    Properties a = new Properties();
    a.put("bootstrap.servers", bootstrap);
    try (Admin admin = Admin.create(a)) {
      int parts = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
      Map<TopicPartition, OffsetSpec> req = java.util.stream.IntStream.range(0, parts).boxed()
          .collect(Collectors.toMap(i -> new TopicPartition(topic, i), i -> OffsetSpec.latest()));
      return admin.listOffsets(req).all().get().values().stream().mapToLong(o -> o.offset()).sum();
    }
  }
}

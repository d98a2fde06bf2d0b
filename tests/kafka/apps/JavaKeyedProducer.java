// Used by tests/kafka/partitioner_test.ts: sends each key given on the
// command line (as UTF-8, value = key) to the topic, with no partition, so
// the Java client's default partitioner picks it; prints "key partition"
// per record. Usage: java JavaKeyedProducer.java host:port topic key...
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;

public class JavaKeyedProducer {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    props.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(props)) {
      for (int i = 2; i < args.length; i++) {
        RecordMetadata m = producer.send(new ProducerRecord<>(args[1], args[i], args[i])).get();
        System.out.println(args[i] + " " + m.partition());
      }
    }
  }
}

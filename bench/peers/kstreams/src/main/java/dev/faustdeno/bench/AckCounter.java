package dev.faustdeno.bench;

import java.util.Map;
import org.apache.kafka.clients.producer.ProducerInterceptor;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;

/**
 * `forward` workload: counts records to the output topic whose send the broker
 * acknowledged. Installed into Kafka Streams' producer with
 * `producer.interceptor.classes`; Kafka creates the instance itself, so the
 * topic and the {@link Progress} to feed come through static fields set before
 * `KafkaStreams.start()`. `onAcknowledgement` runs on the producer's I/O thread
 * once per record, so an event counts as processed only once it is durable in
 * the output topic (acks=all, Kafka's producer default).
 */
public final class AckCounter implements ProducerInterceptor<byte[], byte[]> {
  static volatile String topic = "";
  static volatile Progress progress;

  /** Kafka instantiates the interceptor reflectively. */
  public AckCounter() {}

  @Override
  public ProducerRecord<byte[], byte[]> onSend(ProducerRecord<byte[], byte[]> record) {
    return record;
  }

  @Override
  public void onAcknowledgement(RecordMetadata metadata, Exception exception) {
    Progress p = progress;
    if (exception == null && p != null && metadata != null && topic.equals(metadata.topic())) {
      p.add();
    }
  }

  @Override
  public void close() {}

  @Override
  public void configure(Map<String, ?> configs) {}
}

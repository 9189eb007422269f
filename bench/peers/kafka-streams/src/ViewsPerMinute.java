import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.TimestampExtractor;

/**
 * The peer: views per minute per URL over the same clicks topic, with the same grace (allowed
 * lateness, 5 min), exactly_once_v2 (Concord commits results with offsets in Kafka transactions) and
 * results to an output topic. Exits after `expected` input records are processed and committed,
 * printing the time from start to then.
 *   java -cp <libs>/*:<classes> ViewsPerMinute <brokers> <input topic> <output topic> <app id> <expected> <commit ms>
 */
public class ViewsPerMinute {
  /**
   * Event time from the JSON "ts" field as the clicks schema allows it (epoch ms, or ISO-8601 with Z or
   * an offset: `concord produce` writes both), as Concord reads it; anything else: the partition time.
   */
  public static final class JsonTs implements TimestampExtractor {
    @Override
    public long extract(ConsumerRecord<Object, Object> record, long partitionTime) {
      String v = (String) record.value();
      int i = v.indexOf("\"ts\":");
      if (i < 0) return partitionTime;
      int j = i + 5, k = j;
      while (k < v.length() && Character.isDigit(v.charAt(k))) k++;
      if (k > j) return Long.parseLong(v.substring(j, k));
      if (j < v.length() && v.charAt(j) == '"') {
        int end = v.indexOf('"', j + 1);
        Long ms = end > j ? ClickTime.isoMillis(v.substring(j + 1, end)) : null;
        if (ms != null) return ms;
      }
      return partitionTime;
    }
  }

  public static void main(String[] args) throws Exception {
    String brokers = args[0], input = args[1], output = args[2], appId = args[3];
    long expected = Long.parseLong(args[4]);
    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, args[5]);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 2);
    p.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
    p.put(StreamsConfig.STATE_DIR_CONFIG, System.getProperty("java.io.tmpdir") + "/concord-ks-" + appId);
    p.put(StreamsConfig.DEFAULT_TIMESTAMP_EXTRACTOR_CLASS_CONFIG, JsonTs.class);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    AtomicLong seen = new AtomicLong();
    CountDownLatch done = new CountDownLatch(1);
    StreamsBuilder b = new StreamsBuilder();
    b.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
        .peek((k, v) -> { if (seen.incrementAndGet() == expected) done.countDown(); })
        // The topic is keyed by url already (as Concord's producer writes it): no repartition.
        .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMinutes(1), Duration.ofMinutes(5)))
        .count()
        .toStream((w, c) -> w.key() + "|" + w.window().start())
        .to(output, Produced.with(Serdes.String(), Serdes.Long()));
    long start = System.nanoTime();
    KafkaStreams streams = new KafkaStreams(b.build(), p);
    streams.start();
    done.await();
    streams.close(Duration.ofSeconds(60)); // commits the last transaction
    long ms = (System.nanoTime() - start) / 1_000_000;
    System.out.println("{\"records\":" + seen.get() + ",\"ms\":" + ms + "}");
  }
}

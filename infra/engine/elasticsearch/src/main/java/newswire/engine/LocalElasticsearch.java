package newswire.engine;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.ClasspathNode;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Starts an Elasticsearch node on loopback inside this JVM, for the tests and the demo.
 * Usage: java -cp 'jars/*' newswire.engine.LocalElasticsearch NODE_HOME HTTP_PORT [SETTING=VALUE ...]
 * The node keeps its data under NODE_HOME/data; the transport port is HTTP_PORT + 100. Without
 * settings it is a single-node cluster; a node of a multi-node cluster is given its discovery here
 * (discovery.type=multi-node, node.name, discovery.seed_hosts, cluster.initial_master_nodes;
 * lists comma-separated), which override the defaults below.
 */
public final class LocalElasticsearch {

    private LocalElasticsearch() {}

    public static void main(String[] args) throws Exception {
        Path home = Path.of(args[0]).toAbsolutePath();
        int httpPort = Integer.parseInt(args[1]);
        Settings.Builder given = Settings.builder();
        for (String setting : List.of(args).subList(2, args.length)) {
            int equals = setting.indexOf('=');
            if (equals < 1) {
                throw new IllegalArgumentException("a setting is NAME=VALUE, not [" + setting + "]");
            }
            String name = setting.substring(0, equals);
            String value = setting.substring(equals + 1);
            if (name.equals("discovery.seed_hosts") || name.equals("cluster.initial_master_nodes")) {
                given.putList(name, List.of(value.split(",")));
            } else {
                given.put(name, value);
            }
        }
        Files.createDirectories(home.resolve("config"));
        Settings settings = Settings.builder()
            .put("path.home", home.toString())
            .put("path.data", home.resolve("data").toString())
            .put("path.logs", home.resolve("logs").toString())
            .put("cluster.name", "newswire-local")
            .put("node.name", "newswire-local")
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", httpPort)
            .put("transport.port", httpPort + 100)
            // Without the distribution's modules nothing names a default network implementation.
            .put("http.type", Netty4Plugin.NETTY_HTTP_TRANSPORT_NAME)
            .put("transport.type", Netty4Plugin.NETTY_TRANSPORT_NAME)
            // Same behaviour as the OpenSearch node: writing to a missing index is a bug, not a new index.
            .put("action.auto_create_index", false)
            // The tests clean up with `DELETE prefix*`, which Elasticsearch refuses by default.
            .put("action.destructive_requires_name", false)
            // A test node on a shared disk must not turn read-only when the disk fills up.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            // The node's own log lines go to stdout, which the Python side writes to the node's log file.
            .put("logger.level", "INFO")
            .put(given.build())
            .build();
        String nodeName = settings.get("node.name");
        LogConfigurator.configureWithoutConfig(settings);
        LogConfigurator.setNodeName(nodeName);
        Environment environment = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), home.resolve("config"), () -> nodeName);
        Node node = new ClasspathNode(environment, List.of(Netty4Plugin.class, NewswirePlugin.class));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            }
        }));
        node.start();
        System.out.println("newswire local engine (Elasticsearch) node " + nodeName + " ready on http://127.0.0.1:" + httpPort);
        Thread.currentThread().join();
    }
}

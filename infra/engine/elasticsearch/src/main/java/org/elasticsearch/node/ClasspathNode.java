package org.elasticsearch.node;

import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

import java.util.Collection;

/**
 * A node whose plugins are the given classes on the class path, built the way the test
 * framework's MockNode is built: a service provider that swaps in a class-path plugins service.
 * It lives in this package because {@link NodeConstruction} and {@link NodeServiceProvider}
 * are package-private; everything else is the stock node.
 */
public class ClasspathNode extends Node {

    public ClasspathNode(Environment environment, Collection<Class<? extends Plugin>> plugins) {
        super(NodeConstruction.prepareConstruction(environment, null, new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment env, PluginsLoader unused) {
                return new ClasspathPluginsService(env, plugins);
            }
        }, true));
    }
}

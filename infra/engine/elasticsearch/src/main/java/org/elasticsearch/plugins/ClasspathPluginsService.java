package org.elasticsearch.plugins;

import org.elasticsearch.Build;
import org.elasticsearch.action.admin.cluster.node.info.PluginsAndModules;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.spi.SPIClassIterator;

import java.lang.reflect.Constructor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Plugins instantiated straight from classes on the application class path, the way
 * Elasticsearch's test framework loads them: no plugins directory, no per-plugin class loader,
 * no descriptor file. It lives in this package because the descriptor-less constructor of
 * {@link PluginsLoader} and {@link LoadedPlugin} are package-private.
 */
public final class ClasspathPluginsService extends PluginsService {

    private final List<LoadedPlugin> loaded;

    public ClasspathPluginsService(Environment environment, Collection<Class<? extends Plugin>> pluginClasses) {
        super(environment.settings(), environment.configDir(), new PluginsLoader(Set.of(), Set.of(), Map.of()));
        ClassLoader loader = ClasspathPluginsService.class.getClassLoader();
        String version = Build.current().version();
        this.loaded = pluginClasses.stream().map(pluginClass -> {
            PluginDescriptor descriptor = new PluginDescriptor(
                pluginClass.getName(),
                "loaded from the class path",
                version,
                version,
                Integer.toString(Runtime.version().feature()),
                pluginClass.getName(),
                null,
                List.of(),
                false,
                false,
                false,
                false,
                PluginDescriptor.DeploymentTarget.ALL
            );
            return new LoadedPlugin(descriptor, loadPlugin(pluginClass, environment.settings(), environment.configDir()), loader);
        }).toList();
    }

    @Override
    protected List<LoadedPlugin> plugins() {
        return loaded;
    }

    @Override
    public PluginsAndModules info() {
        return new PluginsAndModules(loaded.stream().map(LoadedPlugin::descriptor).map(PluginRuntimeInfo::new).toList(), List.of());
    }

    /**
     * Every plugin shares the one class path here, so the per-plugin lookup of the base class
     * would find each provider (the server's own feature specifications, say) once per plugin.
     * Each provider class is instantiated once, handed the plugin its constructor asks for.
     */
    @Override
    public <T> List<? extends T> loadServiceProviders(Class<T> service) {
        List<T> providers = new ArrayList<>();
        SPIClassIterator<T> classes = SPIClassIterator.get(service, ClasspathPluginsService.class.getClassLoader());
        while (classes.hasNext()) {
            Class<? extends T> providerClass = classes.next();
            providers.add(createExtension(providerClass, service, pluginFor(providerClass)));
        }
        return List.copyOf(providers);
    }

    private Plugin pluginFor(Class<?> providerClass) {
        for (Constructor<?> constructor : providerClass.getConstructors()) {
            if (constructor.getParameterCount() == 1) {
                for (LoadedPlugin plugin : loaded) {
                    if (constructor.getParameterTypes()[0].isInstance(plugin.instance())) {
                        return plugin.instance();
                    }
                }
            }
        }
        return loaded.getFirst().instance();
    }
}

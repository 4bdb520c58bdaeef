package newswire.engine;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.ar.ArabicAnalyzer;
import org.apache.lucene.analysis.ar.ArabicNormalizationFilter;
import org.apache.lucene.analysis.ar.ArabicStemFilter;
import org.apache.lucene.analysis.core.DecimalDigitFilter;
import org.apache.lucene.analysis.el.GreekLowerCaseFilter;
import org.apache.lucene.analysis.fa.PersianNormalizationFilter;
import org.apache.lucene.analysis.ga.IrishLowerCaseFilter;
import org.apache.lucene.analysis.tr.TurkishLowerCaseFilter;
import org.apache.lucene.util.SetOnce;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.Analysis;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.index.analysis.CharFilterFactory;
import org.elasticsearch.index.analysis.NormalizingTokenFilterFactory;
import org.elasticsearch.index.analysis.PreBuiltAnalyzerProviderFactory;
import org.elasticsearch.index.analysis.PreConfiguredTokenFilter;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.indices.analysis.PreBuiltCacheFactory.CachingStrategy;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.RestHandler;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The newswire plugin of the local Elasticsearch node. It provides, under Elasticsearch's own
 * names and parameters, the analysis components the articles index template uses that the
 * distribution gets from its analysis-common module (not published on Maven Central), plus the
 * {@code arabic} analyzer (the search evaluation's baseline), {@code persian_normalization} and
 * {@code stemmer_override} (place names kept from the stemmer);
 * and the root endpoint of the rest-root module. {@code standard}, {@code stop} and the bare
 * {@code lowercase} come from the server itself. The analysis components are thin wrappers of
 * Lucene's own classes (lucene-analysis-common, a dependency of the server).
 */
public final class NewswirePlugin extends Plugin implements AnalysisPlugin, ActionPlugin {

    private final SetOnce<ClusterService> clusterService = new SetOnce<>();

    @Override
    public Collection<?> createComponents(PluginServices services) {
        clusterService.set(services.clusterService());
        return List.of();
    }

    @Override
    public Map<String, AnalysisProvider<CharFilterFactory>> getCharFilters() {
        return Map.of("mapping", AnalysisPlugin.requiresAnalysisSettings(MappingCharFilterFactory::new));
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of(
            "lowercase", (indexSettings, environment, name, settings) -> lowercase(name, settings.get("language")),
            "decimal_digit", simple(DecimalDigitFilter::new, true),
            "arabic_normalization", simple(ArabicNormalizationFilter::new, true),
            "persian_normalization", simple(PersianNormalizationFilter::new, true),
            "arabic_stem", simple(ArabicStemFilter::new, false),
            "synonym_graph", AnalysisPlugin.requiresAnalysisSettings(SynonymGraphFilterFactory::new),
            "stemmer_override", AnalysisPlugin.requiresAnalysisSettings(StemmerOverrideFilterFactory::new)
        );
    }

    @Override
    public List<PreConfiguredTokenFilter> getPreConfiguredTokenFilters() {
        // What a bare name resolves to outside an index (`_analyze` with "filter": ["arabic_stem"]).
        // `lowercase` is pre-configured by the server already.
        return List.of(
            PreConfiguredTokenFilter.singleton("decimal_digit", true, DecimalDigitFilter::new),
            PreConfiguredTokenFilter.singleton("arabic_normalization", true, ArabicNormalizationFilter::new),
            PreConfiguredTokenFilter.singleton("persian_normalization", true, PersianNormalizationFilter::new),
            PreConfiguredTokenFilter.singleton("arabic_stem", false, ArabicStemFilter::new)
        );
    }

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of("arabic", (indexSettings, environment, name, settings) -> {
            ArabicAnalyzer analyzer = new ArabicAnalyzer(
                Analysis.parseStopWords(environment, settings, ArabicAnalyzer.getDefaultStopSet()),
                Analysis.parseStemExclusion(settings, CharArraySet.EMPTY_SET)
            );
            return new AbstractIndexAnalyzerProvider<ArabicAnalyzer>(name) {
                @Override
                public ArabicAnalyzer get() {
                    return analyzer;
                }
            };
        });
    }

    @Override
    public List<PreBuiltAnalyzerProviderFactory> getPreBuiltAnalyzerProviderFactories() {
        return List.of(new PreBuiltAnalyzerProviderFactory("arabic", CachingStrategy.LUCENE, ArabicAnalyzer::new));
    }

    @Override
    public Collection<RestHandler> getRestHandlers(
        RestHandlersServices services,
        Supplier<DiscoveryNodes> nodesInCluster,
        Predicate<NodeFeature> clusterSupportsFeature
    ) {
        return List.of(new RootEndpoint(clusterService::get));
    }

    /** A filter without parameters; {@code normalizing} ones also apply to keyword normalizers and multi-term queries. */
    private static AnalysisProvider<TokenFilterFactory> simple(Function<TokenStream, TokenStream> filter, boolean normalizing) {
        return (indexSettings, environment, name, settings) -> normalizing ? normalizingFilter(name, filter) : new AbstractTokenFilterFactory(name) {
            @Override
            public TokenStream create(TokenStream tokenStream) {
                return filter.apply(tokenStream);
            }
        };
    }

    /** {@code lowercase} with the optional {@code language}: greek, irish or turkish. */
    private static TokenFilterFactory lowercase(String name, String language) {
        Function<TokenStream, TokenStream> filter = switch (language == null ? "" : language.toLowerCase(java.util.Locale.ROOT)) {
            case "" -> LowerCaseFilter::new;
            case "greek" -> GreekLowerCaseFilter::new;
            case "irish" -> IrishLowerCaseFilter::new;
            case "turkish" -> TurkishLowerCaseFilter::new;
            default -> throw new IllegalArgumentException("language [" + language + "] not support for lower case");
        };
        return normalizingFilter(name, filter);
    }

    /** A filter that also applies to keyword normalizers and multi-term queries. */
    private static TokenFilterFactory normalizingFilter(String name, Function<TokenStream, TokenStream> filter) {
        return new NormalizingTokenFilterFactory() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public TokenStream create(TokenStream tokenStream) {
                return filter.apply(tokenStream);
            }
        };
    }
}

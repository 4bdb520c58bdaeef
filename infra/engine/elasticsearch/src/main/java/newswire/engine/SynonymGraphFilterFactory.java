package newswire.engine;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.synonym.SolrSynonymParser;
import org.apache.lucene.analysis.synonym.SynonymGraphFilter;
import org.apache.lucene.analysis.synonym.SynonymMap;
import org.apache.lucene.analysis.synonym.WordnetSynonymParser;
import org.apache.lucene.util.CharsRef;
import org.apache.lucene.util.CharsRefBuilder;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.IndexService.IndexCreationContext;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.Analysis;
import org.elasticsearch.index.analysis.AnalysisMode;
import org.elasticsearch.index.analysis.CharFilterFactory;
import org.elasticsearch.index.analysis.CustomAnalyzer;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;

import java.io.IOException;
import java.io.StringReader;
import java.text.ParseException;
import java.util.List;
import java.util.function.Function;

/**
 * The {@code synonym_graph} token filter with rules from {@code synonyms} (inline) or
 * {@code synonyms_path}, and {@code expand}, {@code lenient}, {@code format} (solr or wordnet)
 * and {@code updateable}. As in Elasticsearch, the rules are parsed with the analysis chain that
 * precedes the filter in each analyzer, so a rule matches the tokens that chain produces.
 * {@code synonyms_set} needs the synonyms API, which the local node does not have.
 */
final class SynonymGraphFilterFactory extends AbstractTokenFilterFactory {

    private final Settings settings;
    private final Environment environment;
    private final boolean expand;
    private final boolean lenient;
    private final boolean wordnet;
    private final AnalysisMode analysisMode;

    SynonymGraphFilterFactory(IndexSettings indexSettings, Environment environment, String name, Settings settings) {
        super(name);
        if (settings.hasValue("synonyms_set")) {
            throw new IllegalArgumentException("[synonyms_set] is not available on the local node (no synonyms API); use [synonyms]");
        }
        if (settings.hasValue("synonyms") == false && settings.hasValue("synonyms_path") == false) {
            throw new IllegalArgumentException("synonym requires either `synonyms`, `synonyms_set` or `synonyms_path` to be configured");
        }
        this.settings = settings;
        this.environment = environment;
        this.expand = settings.getAsBoolean("expand", true);
        boolean updateable = settings.getAsBoolean("updateable", false);
        this.lenient = settings.getAsBoolean("lenient", updateable);
        this.wordnet = "wordnet".equalsIgnoreCase(settings.get("format", ""));
        this.analysisMode = updateable ? AnalysisMode.SEARCH_TIME : AnalysisMode.ALL;
    }

    @Override
    public AnalysisMode getAnalysisMode() {
        return analysisMode;
    }

    @Override
    public TokenStream create(TokenStream tokenStream) {
        throw new IllegalStateException("synonym_graph works only inside an analyzer, after getChainAwareTokenFilterFactory");
    }

    @Override
    public TokenFilterFactory getChainAwareTokenFilterFactory(
        IndexCreationContext context,
        TokenizerFactory tokenizer,
        List<CharFilterFactory> charFilters,
        List<TokenFilterFactory> previousTokenFilters,
        Function<String, TokenFilterFactory> allFilters
    ) {
        Analyzer ruleAnalyzer = new CustomAnalyzer(
            tokenizer,
            charFilters.toArray(new CharFilterFactory[0]),
            previousTokenFilters.stream().map(TokenFilterFactory::getSynonymFilter).toArray(TokenFilterFactory[]::new)
        );
        SynonymMap synonyms = buildSynonyms(ruleAnalyzer);
        String name = name();
        AnalysisMode mode = analysisMode;
        return new TokenFilterFactory() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public TokenStream create(TokenStream tokenStream) {
                return synonyms.fst == null ? tokenStream : new SynonymGraphFilter(tokenStream, synonyms, false);
            }

            @Override
            public TokenFilterFactory getSynonymFilter() {
                // A later synonym filter must not see this one's expansions while it parses its rules.
                return IDENTITY_FILTER;
            }

            @Override
            public AnalysisMode getAnalysisMode() {
                return mode;
            }
        };
    }

    private SynonymMap buildSynonyms(Analyzer ruleAnalyzer) {
        StringBuilder rules = new StringBuilder();
        for (String line : Analysis.getWordList(environment, settings, "synonyms")) {
            rules.append(line).append('\n');
        }
        try {
            SynonymMap.Parser parser = wordnet
                ? new WordnetSynonymParser(true, expand, ruleAnalyzer) {
                    @Override
                    public CharsRef analyze(String text, CharsRefBuilder reuse) throws IOException {
                        return analyzeRule(text, reuse, super::analyze);
                    }

                    @Override
                    public void add(CharsRef input, CharsRef output, boolean includeOrig) {
                        if (keep(input, output)) super.add(input, output, includeOrig);
                    }
                }
                : new SolrSynonymParser(true, expand, ruleAnalyzer) {
                    @Override
                    public CharsRef analyze(String text, CharsRefBuilder reuse) throws IOException {
                        return analyzeRule(text, reuse, super::analyze);
                    }

                    @Override
                    public void add(CharsRef input, CharsRef output, boolean includeOrig) {
                        if (keep(input, output)) super.add(input, output, includeOrig);
                    }
                };
            parser.parse(new StringReader(rules.toString()));
            return parser.build();
        } catch (IOException | ParseException | IllegalArgumentException e) {
            throw new IllegalArgumentException("failed to build synonyms from ['" + name() + "' analyzer settings]", e);
        }
    }

    private interface RuleAnalysis {
        CharsRef analyze(String text, CharsRefBuilder reuse) throws IOException;
    }

    /** With {@code lenient}, a rule term that analyzes to nothing (a stop word, say) drops that rule instead of failing. */
    private CharsRef analyzeRule(String text, CharsRefBuilder reuse, RuleAnalysis analysis) throws IOException {
        try {
            return analysis.analyze(text, reuse);
        } catch (IllegalArgumentException e) {
            if (lenient) {
                return new CharsRef("");
            }
            throw e;
        }
    }

    private boolean keep(CharsRef input, CharsRef output) {
        return lenient == false || (input.length > 0 && output.length > 0);
    }
}

package newswire.engine;

import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.miscellaneous.StemmerOverrideFilter;
import org.apache.lucene.analysis.miscellaneous.StemmerOverrideFilter.StemmerOverrideMap;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.Analysis;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * {@code stemmer_override} as analysis-common defines it: {@code rules} (or {@code rules_path}) of the
 * form {@code "word, other word => stem"}; the listed words get that stem and are kept from later stemmers.
 */
final class StemmerOverrideFilterFactory extends AbstractTokenFilterFactory {

    private final StemmerOverrideMap overrides;

    StemmerOverrideFilterFactory(IndexSettings indexSettings, Environment environment, String name, Settings settings) {
        super(name);
        List<String> rules = Analysis.getWordList(environment, settings, "rules");
        if (rules == null) {
            throw new IllegalArgumentException("stemmer override filter requires either `rules` or `rules_path` to be configured");
        }
        StemmerOverrideFilter.Builder builder = new StemmerOverrideFilter.Builder(false);
        for (String rule : rules) {
            String[] sides = rule.split("=>", -1);
            if (sides.length != 2 || sides[1].trim().isEmpty()) {
                throw new IllegalArgumentException("Invalid Keyword override Rule:" + rule);
            }
            String stem = sides[1].trim();
            for (String word : sides[0].split(",")) {
                if (!word.trim().isEmpty()) {
                    builder.add(word.trim(), stem);
                }
            }
        }
        try {
            overrides = builder.build();
        } catch (IOException e) {
            throw new UncheckedIOException("failed to build stemmer override map", e);
        }
    }

    @Override
    public TokenStream create(TokenStream tokenStream) {
        return new StemmerOverrideFilter(tokenStream, overrides);
    }
}

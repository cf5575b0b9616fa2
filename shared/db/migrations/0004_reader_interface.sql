-- The read interface for downstream services, version 1: one view in its own schema, documented column by
-- column, and a role that can read it and nothing else. Changing a column is a new migration plus a line in
-- docs/CHANGELOG.md; removing one takes a deprecation period (see docs/downstream.md).
-- depends: 0001_core 0003_topics

CREATE INDEX articles_duplicate_of_idx ON articles (duplicate_of) WHERE duplicate_of IS NOT NULL;

CREATE SCHEMA IF NOT EXISTS newsmill;

CREATE VIEW newsmill.articles_published AS
SELECT a.id,
       a.url,
       a.canonical_url,
       a.site_name AS site,
       a.feed_id,
       f.url AS feed_url,
       a.title,
       a.author,
       a.published_at,
       a.fetched_at,
       a.language,
       a.language_probability,
       a.text,
       a.word_count,
       a.content_hash,
       a.duplicate_of,
       a.similarity,
       COALESCE((SELECT array_agg(t.slug ORDER BY at.score DESC, t.slug)
                 FROM article_topics at JOIN topics t ON t.id = at.topic_id
                 WHERE at.article_id = a.id), '{}'::text[]) AS topics,
       a.cursor,
       a.updated_at
FROM articles a
LEFT JOIN feeds f ON f.id = a.feed_id
WHERE a.cursor IS NOT NULL;

COMMENT ON VIEW newsmill.articles_published IS
    'newsmill read interface v1: published articles, followed by cursor. See docs/downstream.md.';
COMMENT ON COLUMN newsmill.articles_published.id IS 'Stable article id.';
COMMENT ON COLUMN newsmill.articles_published.url IS 'URL the page was fetched from (after redirects).';
COMMENT ON COLUMN newsmill.articles_published.canonical_url IS
    'Entry URL without tracking parameters or fragment; unique.';
COMMENT ON COLUMN newsmill.articles_published.site IS 'Site name from page metadata (og:site_name), else NULL.';
COMMENT ON COLUMN newsmill.articles_published.feed_id IS 'Source feed id; NULL once the feed is removed.';
COMMENT ON COLUMN newsmill.articles_published.feed_url IS 'Source feed URL; NULL once the feed is removed.';
COMMENT ON COLUMN newsmill.articles_published.title IS 'Headline.';
COMMENT ON COLUMN newsmill.articles_published.author IS 'Author from page metadata, else the feed entry.';
COMMENT ON COLUMN newsmill.articles_published.published_at IS 'Page metadata date, else the feed entry date.';
COMMENT ON COLUMN newsmill.articles_published.fetched_at IS 'When the page was fetched.';
COMMENT ON COLUMN newsmill.articles_published.language IS 'ISO 639-1 code, or und when undecidable.';
COMMENT ON COLUMN newsmill.articles_published.language_probability IS 'Confidence of language, 0..1.';
COMMENT ON COLUMN newsmill.articles_published.text IS 'Cleaned article text, one paragraph per line.';
COMMENT ON COLUMN newsmill.articles_published.word_count IS 'Whitespace-separated words of text.';
COMMENT ON COLUMN newsmill.articles_published.content_hash IS
    'SHA-256 (hex) of the normalised text; equal for exact duplicates.';
COMMENT ON COLUMN newsmill.articles_published.duplicate_of IS
    'Id of the first-seen original when this is an exact or near duplicate, else NULL.';
COMMENT ON COLUMN newsmill.articles_published.similarity IS 'Similarity to duplicate_of (0..1), else NULL.';
COMMENT ON COLUMN newsmill.articles_published.topics IS 'Topic slugs, best score first.';
COMMENT ON COLUMN newsmill.articles_published.cursor IS
    'Change cursor: increases in commit order; an article that changes gets a new, higher value.';
COMMENT ON COLUMN newsmill.articles_published.updated_at IS 'When the row last changed.';

-- Readers follow "cursor > last ORDER BY cursor".
CREATE INDEX articles_cursor_idx ON articles (cursor) WHERE cursor IS NOT NULL;

-- Roles are cluster-wide: create it once, tolerate another database (or a concurrent migrate) having done so.
DO $$
BEGIN
    CREATE ROLE newsmill_reader NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
-- The view runs with its owner's rights, so the reader needs no grant on the tables behind it.
GRANT USAGE ON SCHEMA newsmill TO newsmill_reader;
GRANT SELECT ON newsmill.articles_published TO newsmill_reader;

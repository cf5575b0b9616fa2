-- Full-text search over published articles (issue 18). Each article is indexed with the text-search
-- configuration of its own language (stemming, stop words), in a table of its own filled by an indexer that
-- follows the publication cursor (workers/search_index.py): computing a document takes milliseconds, and
-- publication holds the cursor counter's lock, so it must not do it.
-- depends: 0012_delivery_promises

-- ISO 639-1 code -> PostgreSQL's built-in configuration; any other language (and und) uses 'simple'.
CREATE TABLE search_languages (
    language text PRIMARY KEY,
    config   regconfig NOT NULL
);
INSERT INTO search_languages (language, config) VALUES
    ('ar', 'arabic'), ('hy', 'armenian'), ('eu', 'basque'), ('ca', 'catalan'), ('da', 'danish'),
    ('nl', 'dutch'), ('en', 'english'), ('fi', 'finnish'), ('fr', 'french'), ('de', 'german'),
    ('el', 'greek'), ('hi', 'hindi'), ('hu', 'hungarian'), ('id', 'indonesian'), ('ga', 'irish'),
    ('it', 'italian'), ('lt', 'lithuanian'), ('ne', 'nepali'), ('no', 'norwegian'), ('nb', 'norwegian'),
    ('nn', 'norwegian'), ('pt', 'portuguese'), ('ro', 'romanian'), ('ru', 'russian'), ('sr', 'serbian'),
    ('es', 'spanish'), ('sv', 'swedish'), ('ta', 'tamil'), ('tr', 'turkish'), ('yi', 'yiddish');

-- OR of many queries (one per configuration): the document index answers all of them in one scan.
CREATE AGGREGATE search_any(tsquery) (SFUNC = tsquery_or, STYPE = tsquery);

CREATE TABLE article_search (
    article_id bigint PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    config     regconfig NOT NULL,
    -- Title (weight A) and text (weight B), with the article's configuration.
    document   tsvector NOT NULL,
    -- md5 of what the document was computed from (title, language, content_hash): a new cursor with the
    -- same content (a retag) costs a comparison, not a new document.
    source     text NOT NULL
);
CREATE INDEX article_search_document_idx ON article_search USING gin (document);

-- One row: the highest cursor the indexer has read. Locked by the one indexer run that advances it.
CREATE TABLE search_progress (
    id     boolean PRIMARY KEY DEFAULT true CHECK (id),
    cursor bigint NOT NULL
);
INSERT INTO search_progress VALUES (true, 0);

-- The near-duplicate index: LSH band keys of original articles (see workers/dedup.py), kept in Postgres so it
-- survives a Redis flush or a restart and needs no rebuild. Confirmation reads articles.text, so no signature
-- or shingle set is stored: per article, 32 rows of two bigints (~2.4 KB with both indexes, ~2.4 GB per million).
-- depends: 0001_core

CREATE TABLE dedup_bands (
    band_key   bigint NOT NULL,   -- hash of (band number, that band's MinHash values)
    article_id bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    -- The lookup walks each key's ids in ascending order (earliest-seen first) straight from this index.
    PRIMARY KEY (band_key, article_id)
);
-- Re-indexing and un-indexing one article, and ON DELETE CASCADE from articles. An article's 32 entries
-- share one key, which btree deduplication stores once: about 8 bytes per row.
CREATE INDEX dedup_bands_article_idx ON dedup_bands (article_id);

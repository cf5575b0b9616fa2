-- The shingle hashes of every indexed article (workers/stages/dedup.py, `Shingles`), stored beside its band
-- keys. A copy is confirmed by scoring its shingles against its story's indexed members; when a member was
-- published by another worker process, its shingles used to be rebuilt from the stored text (normalise, split,
-- one CRC per shingle: ~1.1 ms an article, most of a contended publisher's CPU). Now they are read back as
-- bytes. `content_hash` is the text they were taken from: a row for an older text of a re-extracted article
-- is ignored, and the text is shingled again. `hashes` is little-endian uint32, in text order: random bytes,
-- so not worth compressing (STORAGE EXTERNAL skips the attempt). Rows of articles indexed before this
-- migration are absent: those fall back to the text.
-- depends: 0016_publish_unless_published_since

CREATE TABLE dedup_shingles (
    article_id bigint PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    content_hash text NOT NULL,
    mode text NOT NULL CHECK (mode IN ('words', 'chars')),
    token_count integer NOT NULL,
    hashes bytea NOT NULL
);
ALTER TABLE dedup_shingles ALTER COLUMN hashes SET STORAGE EXTERNAL;

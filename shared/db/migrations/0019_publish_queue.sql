-- Publication in two steps (workers/steps/publish.py). A publishing transaction stores a batch's tags and
-- index entries and queues the batch here, with no deployment-wide lock; it commits in parallel with every
-- other publisher. The sequencer, newsmill_sequence_publications, then takes the publication counter's row
-- lock once for every batch queued so far (whoever calls it first does the work of all of them; a call that
-- finds its batch done writes nothing and commits without a WAL flush), checks each batch against what was
-- published after it decided, and gives each good batch its cursor range: the articles' one row rewrite, as
-- before. Cursor order stays commit order: cursors are handed out only under the lock, by the transaction
-- that makes the rows visible to readers. A batch the check invalidates (two copies of one story decided
-- at the same moment) is sent back: its items return to 'extracted' and its publisher, or the sweeper once
-- sweep_at has passed, publishes them again deciding against what is now published.
-- depends: 0018_pages_lz4

CREATE TABLE publish_queue (
    id                   bigserial PRIMARY KEY,  -- sequencing order: a batch that saw another committed is later
    seen                 bigint NOT NULL,        -- publish_counter when the batch decided its duplicates
    article_ids          bigint[] NOT NULL,      -- in the batch's cursor order; the arrays below run beside it
    item_ids             bigint[] NOT NULL,
    language             text[] NOT NULL,
    language_probability real[] NOT NULL,
    language_source      text[] NOT NULL,
    duplicate_of         bigint[] NOT NULL,
    similarity           real[] NOT NULL,
    original_hashes      text[] NOT NULL,        -- the batch's originals' texts and band keys: what the check
    original_band_keys   bigint[] NOT NULL,      -- looks for among articles published after `seen`
    queued_at            timestamptz NOT NULL DEFAULT clock_timestamp()
);

COMMENT ON TABLE publish_queue IS
    'Batches committed by publishers and waiting for their cursor range (newsmill_sequence_publications).';

CREATE FUNCTION newsmill_sequence_publications(
    channel text, sweep_at timestamptz, mine bigint[],
    OUT waited double precision, OUT held double precision,
    OUT batches integer, OUT published integer, OUT bounced integer, OUT mine_sent_back bigint[]
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    asked timestamptz := clock_timestamp();
    granted timestamptz;
    b publish_queue;
    n integer;
    base bigint;
BEGIN
    PERFORM 1 FROM publish_counter FOR UPDATE;
    granted := clock_timestamp();
    waited := extract(epoch FROM granted - asked);
    batches := 0; published := 0; bounced := 0;
    -- Each statement of a VOLATILE function takes a fresh snapshot: this one, after the grant, sees every
    -- batch committed before it, and the checks below see what earlier iterations published.
    FOR b IN SELECT * FROM publish_queue ORDER BY id LOOP
        DELETE FROM publish_queue WHERE id = b.id;
        n := cardinality(b.article_ids);
        IF EXISTS (
            -- The filter of shared/db/dedup_index.py's `published_since` (and of migration 0016), as a test.
            SELECT 1 FROM articles a
            WHERE a.cursor > b.seen AND a.id <> ALL(b.article_ids)
              AND (a.content_hash = ANY(b.original_hashes)
                   OR EXISTS (SELECT 1 FROM dedup_bands d
                              WHERE d.article_id = a.id AND d.band_key = ANY(b.original_band_keys)))
        ) OR EXISTS (
            -- A copy linked to an article outside the batch that is not published (sent back meanwhile).
            SELECT 1 FROM unnest(b.duplicate_of) AS o(id) JOIN articles a ON a.id = o.id
            WHERE o.id <> ALL(b.article_ids) AND a.cursor IS NULL
        ) THEN
            UPDATE items SET state = 'extracted', sweep_at = newsmill_sequence_publications.sweep_at,
                             state_changed_at = now()
            WHERE id = ANY(b.item_ids) AND state = 'published';
            bounced := bounced + 1;
            CONTINUE;
        END IF;
        UPDATE publish_counter SET value = value + n RETURNING value - n INTO base;
        -- first_cursor and content_changed_at keep what they stood for before (see 0012 and articles.py).
        UPDATE articles a SET language = v.language, language_probability = v.probability,
                              language_source = v.source, duplicate_of = v.duplicate_of,
                              similarity = v.similarity,
                              cursor = base + v.n,
                              first_cursor = coalesce(a.first_cursor, a.cursor, base + v.n),
                              content_changed_at = coalesce(a.content_changed_at, a.updated_at),
                              updated_at = now()
        FROM unnest(b.article_ids, b.language, b.language_probability, b.language_source, b.duplicate_of,
                    b.similarity) WITH ORDINALITY AS v(id, language, probability, source, duplicate_of, similarity, n)
        WHERE a.id = v.id;
        batches := batches + 1;
        published := published + n;
    END LOOP;
    IF batches > 0 THEN
        -- Delivered at commit, in commit order: followers LISTEN instead of polling fast.
        PERFORM pg_notify(channel, (SELECT value FROM publish_counter)::text);
    END IF;
    held := extract(epoch FROM clock_timestamp() - granted);
    -- Of the caller's items (its batch, sequenced by this call or an earlier one), those sent back.
    mine_sent_back := ARRAY(SELECT id FROM items WHERE id = ANY(mine) AND state = 'extracted' ORDER BY id);
END
$$;

-- The optimistic end of a publishing transaction (workers/steps/publish.py): take the publication counter's
-- row lock, then check, in a statement of its own (a VOLATILE function's statements each take a fresh
-- snapshot, so it sees whatever committed while this one waited), that nothing published after cursor `seen`
-- shares a text or a band key with the batch's originals. When something did, raise serialization_failure:
-- the caller rolls back and publishes again with the recheck under the lock. It is a function so that the
-- lock, the check, the cursor bump and COMMIT reach the server in one pipeline: the lock is then held for
-- the server's own work only, never while a descheduled client process gets back to the CPU to send COMMIT.
-- The filter is shared/db/dedup_index.py's `published_since`, as an existence test.
-- depends: 0015_item_retry_at

CREATE FUNCTION newsmill_lock_unless_published_since(
    seen bigint, batch_ids bigint[], hashes text[], band_keys bigint[]
, OUT waited double precision, OUT since_begin double precision
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    asked timestamptz := clock_timestamp();
BEGIN
    PERFORM 1 FROM publish_counter FOR UPDATE;
    -- For newsmill_publish_lock_seconds, durations on this server's clock: the wait for the lock, and the
    -- time from the transaction's start to the grant (the client subtracts it from the transaction's length).
    waited := extract(epoch FROM clock_timestamp() - asked);
    since_begin := extract(epoch FROM clock_timestamp() - transaction_timestamp());
    IF EXISTS (
        SELECT 1 FROM articles a
        WHERE a.cursor > seen AND a.id <> ALL(batch_ids)
          AND (a.content_hash = ANY(hashes)
               OR EXISTS (SELECT 1 FROM dedup_bands b WHERE b.article_id = a.id AND b.band_key = ANY(band_keys)))
    ) THEN
        RAISE EXCEPTION 'an article sharing text with this batch was published meanwhile'
            USING ERRCODE = 'serialization_failure';
    END IF;
END
$$;

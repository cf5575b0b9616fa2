-- What a retag (or a re-extraction) may and may not do to readers (issue 18):
-- * a webhook is owed only articles first published after it was created, so each article remembers its
--   first cursor and each subscription the cursor it started from;
-- * an entry's <updated> changes only when what a reader sees changes, so an article remembers when its
--   extracted content last changed, apart from updated_at (which every new cursor moves).
-- Both article columns start NULL (no table rewrite on a large table): shared.db.articles.bump_cursor fills
-- them from the values they stand for on the next move of the cursor, and readers fall back the same way.
-- depends: 0007_stats_indexes

ALTER TABLE articles ADD COLUMN first_cursor bigint;
ALTER TABLE articles ADD COLUMN content_changed_at timestamptz;
-- Only rows inserted from now on get it (a volatile default on ADD COLUMN would rewrite the table).
ALTER TABLE articles ALTER COLUMN content_changed_at SET DEFAULT clock_timestamp();

-- The newest cursor when the subscription was created: articles first published at or below it are older
-- than the subscription and never owed to it. Existing webhooks start from where they are now (their
-- creation cursor was not kept): nothing published before this migration is ever sent by a retag.
ALTER TABLE subscriptions ADD COLUMN start_cursor bigint;
UPDATE subscriptions SET start_cursor = delivery_cursor;
ALTER TABLE subscriptions ALTER COLUMN start_cursor SET NOT NULL;

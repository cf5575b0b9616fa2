-- The pipeline gauges (read at every Prometheus scrape) and `newsmill status` counted recent publications,
-- failures by stage and the oldest unfinished item by scanning all of items: 0.35 s per scrape at 2 million
-- items, growing with the table. These partial indexes hold only the rows each count needs. Building them
-- takes about half a second per million items, during which items cannot be written (workers wait,
-- nothing fails).
-- depends: 0006_drop_duplicate_cursor_index

CREATE INDEX items_published_at_idx ON items (state_changed_at) WHERE state = 'published';
CREATE INDEX items_failed_from_idx ON items (failed_from) WHERE state = 'failed';
CREATE INDEX items_unfinished_created_idx ON items (created_at) WHERE state NOT IN ('published', 'failed');

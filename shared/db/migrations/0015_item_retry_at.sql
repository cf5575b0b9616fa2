-- When a deferred item is next tried (the backoff of a transient failure, a busy or held-back host), apart
-- from sweep_at, which for a re-sent item lies a whole NEWSMILL_STUCK_AFTER later. `newsmill run --until-idle`
-- reads it to wait for items due soon and to report those waiting out a longer backoff, instead of calling
-- them idle. NULL: the item is not waiting (new, being worked on, or moved on). A nullable column without a
-- default is added without rewriting the table.
-- depends: 0007_stats_indexes

ALTER TABLE items ADD COLUMN retry_at timestamptz;

-- Items already waiting out a backoff when this runs come back at their sweep time (at the latest).
UPDATE items SET retry_at = sweep_at
WHERE state NOT IN ('published', 'failed') AND outcome IS NOT NULL AND outcome <> 'ok' AND sweep_at > now();

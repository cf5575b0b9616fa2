-- articles.cursor is UNIQUE (0001_core), which already gives readers' "cursor > last ORDER BY cursor" an
-- index; the partial one 0004 added was a second copy that every publication had to write too.
-- depends: 0004_reader_interface 0005_subscriptions

DROP INDEX IF EXISTS articles_cursor_idx;

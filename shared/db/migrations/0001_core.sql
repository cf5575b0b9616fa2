-- The core pipeline: source feeds, pipeline items with an explicit state, raw pages, articles.

CREATE TABLE feeds (
    id                   bigserial PRIMARY KEY,
    url                  text NOT NULL UNIQUE,
    title                text,
    site_url             text,
    language             text,
    etag                 text,
    last_modified        text,
    body_hash            text,          -- sha256 of the last body, for servers whose validators lie
    next_poll_at         timestamptz NOT NULL DEFAULT now(),
    poll_interval        integer NOT NULL DEFAULT 900,   -- seconds, as last computed by the policy
    consecutive_failures integer NOT NULL DEFAULT 0,
    last_outcome         text,
    last_error           text,
    last_polled_at       timestamptz,
    last_success_at      timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feeds_due_idx ON feeds (next_poll_at);

CREATE TABLE items (
    id                 bigserial PRIMARY KEY,
    feed_id            bigint REFERENCES feeds(id) ON DELETE SET NULL,
    guid               text,
    url                text NOT NULL,
    canonical_url      text NOT NULL UNIQUE,
    entry_title        text,
    entry_author       text,
    entry_published_at timestamptz,
    entry_language     text,
    state              text NOT NULL DEFAULT 'discovered'
                       CHECK (state IN ('discovered', 'fetched', 'extracted', 'published', 'failed')),
    attempts           integer NOT NULL DEFAULT 0,
    outcome            text,
    last_error         text,
    failed_from        text,          -- the state an item was in when it failed: which stage gave up
    -- When the sweeper should (re)enqueue this item if nothing moved it: pushed forward on every claim and
    -- state change, set to the backoff time after a transient failure. The single "is it due" predicate.
    sweep_at           timestamptz NOT NULL DEFAULT now(),
    state_changed_at   timestamptz NOT NULL DEFAULT now(),
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX items_feed_guid_key ON items (feed_id, guid) WHERE guid IS NOT NULL;
CREATE INDEX items_sweep_idx ON items (sweep_at) WHERE state NOT IN ('published', 'failed');
CREATE INDEX items_feed_created_idx ON items (feed_id, created_at);

CREATE TABLE pages (
    item_id       bigint PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    final_url     text NOT NULL,
    http_status   integer NOT NULL,
    content_type  text,
    charset       text,             -- the charset the body was decoded with, and where it came from
    html_gzip     bytea,            -- raw body, gzip-compressed, for re-processing; NULL once pruned
    size          integer NOT NULL,
    fetched_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pages_fetched_idx ON pages (fetched_at) WHERE html_gzip IS NOT NULL;

CREATE TABLE articles (
    id                   bigserial PRIMARY KEY,
    item_id              bigint NOT NULL UNIQUE REFERENCES items(id) ON DELETE CASCADE,
    feed_id              bigint REFERENCES feeds(id) ON DELETE SET NULL,
    url                  text NOT NULL,
    canonical_url        text NOT NULL UNIQUE,
    site_name            text,
    title                text,
    author               text,
    published_at         timestamptz,
    date_source          text,          -- 'page' or 'feed': which evidence the date came from
    fetched_at           timestamptz NOT NULL,
    text                 text NOT NULL,
    word_count           integer NOT NULL,
    content_hash         text NOT NULL,
    page_language        text,          -- <html lang> / og:locale hint from the page
    language             text,
    language_probability real,
    language_source      text,
    duplicate_of         bigint REFERENCES articles(id) ON DELETE SET NULL,
    similarity           real,
    cursor               bigint UNIQUE, -- NULL until published; see publish_counter
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX articles_content_hash_idx ON articles (content_hash);
CREATE INDEX articles_published_idx ON articles (published_at);

-- One row: the last cursor handed out. Publishing takes its row lock until commit, so cursors become
-- visible in the order they were handed out and a reader polling "cursor > last" never skips one.
CREATE TABLE publish_counter (
    id    boolean PRIMARY KEY DEFAULT true CHECK (id),
    value bigint NOT NULL
);
INSERT INTO publish_counter VALUES (true, 0);

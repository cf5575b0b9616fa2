-- WebSub (W3C Recommendation, 2018): subscription requests awaiting verification of intent, and the verified
-- subscriptions the hub pushes new stories to; and the daily e-mail digest of editors' subscriptions.
-- Nothing here is granted to newsmill_reader: callbacks and secrets are credentials.
-- depends: 0013_search

CREATE TABLE websub_requests (
    id             bigserial PRIMARY KEY,
    mode           text NOT NULL CHECK (mode IN ('subscribe', 'unsubscribe')),
    callback       text NOT NULL,
    topic_url      text NOT NULL,   -- one of our feeds, as the subscriber named it
    feed_format    text NOT NULL CHECK (feed_format IN ('atom', 'rss', 'json')),
    topic_slug     text,            -- NULL: the combined feed of every topic
    languages      text[] NOT NULL DEFAULT '{}',
    secret         text,            -- hub.secret: the key of X-Hub-Signature, kept to sign every push
    lease_seconds  integer NOT NULL,
    state          text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'verified', 'refused')),
    attempts       integer NOT NULL DEFAULT 0,
    error          text,
    enqueued_until timestamptz,     -- a verification task is queued; planned again only after this
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX websub_requests_pending_idx ON websub_requests (id) WHERE state = 'pending';

CREATE TABLE websub_subscriptions (
    id                   bigserial PRIMARY KEY,
    callback             text NOT NULL,
    topic_url            text NOT NULL,
    feed_format          text NOT NULL CHECK (feed_format IN ('atom', 'rss', 'json')),
    topic_slug           text,
    languages            text[] NOT NULL DEFAULT '{}',
    secret               text,
    expires_at           timestamptz NOT NULL,
    -- Stories first published above this cursor are still to be pushed (shared.db.websub).
    delivery_cursor      bigint NOT NULL,
    consecutive_failures integer NOT NULL DEFAULT 0,
    last_error           text,
    retry_at             timestamptz NOT NULL DEFAULT now(),
    send_lease_until     timestamptz,
    enqueued_until       timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (callback, topic_url)
);

-- A subscription's e-mail digest: 'daily' sends the stories first published since the last digest to its
-- e-mail address once a day (NEWSMILL_DIGEST_HOUR, UTC); 'none' (every existing subscription) sends nothing.
ALTER TABLE subscriptions ADD COLUMN digest text NOT NULL DEFAULT 'none' CHECK (digest IN ('none', 'daily'));
ALTER TABLE subscriptions ADD COLUMN digest_cursor bigint;
ALTER TABLE subscriptions ADD COLUMN digest_due_at timestamptz;
ALTER TABLE subscriptions ADD COLUMN digest_error text;
CREATE INDEX subscriptions_digest_due_idx ON subscriptions (digest_due_at) WHERE digest = 'daily' AND state = 'active';

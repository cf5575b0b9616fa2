-- Editors' subscriptions (a private feed or a signed webhook) and the log of webhook deliveries.
-- Nothing here is granted to newsmill_reader: the tables hold webhook secrets and token hashes.
-- depends: 0004_reader_interface

CREATE TABLE subscriptions (
    id                   bigserial PRIMARY KEY,
    email                text NOT NULL,
    topics               text[] NOT NULL CHECK (cardinality(topics) > 0),
    languages            text[] NOT NULL DEFAULT '{}',  -- empty: every language
    kind                 text NOT NULL CHECK (kind IN ('feed', 'webhook')),
    -- SHA-256 (hex) of a private feed's token; the token itself is shown once and never stored.
    token_hash           text UNIQUE,
    webhook_url          text,
    -- Kept in clear because every delivery is signed with it (HMAC needs the key, a hash would not do).
    webhook_secret       text,
    state                text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'revoked')),
    consecutive_failures integer NOT NULL DEFAULT 0,
    last_error           text,
    -- Webhooks: the highest article cursor already considered; everything above it is still to match.
    delivery_cursor      bigint NOT NULL DEFAULT 0,
    retry_at             timestamptz NOT NULL DEFAULT now(),  -- no delivery attempt before this (backoff)
    send_lease_until     timestamptz,  -- a sender holds the subscription until then
    enqueued_until       timestamptz,  -- a send task is queued; planned again only after this
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'feed' AND token_hash IS NOT NULL AND webhook_url IS NULL AND webhook_secret IS NULL)
        OR (kind = 'webhook' AND token_hash IS NULL AND webhook_url IS NOT NULL AND webhook_secret IS NOT NULL))
);
CREATE INDEX subscriptions_webhooks_idx ON subscriptions (id) WHERE kind = 'webhook' AND state <> 'revoked';

CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    subscription_id bigint NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    article_id      bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    -- The original of the article's story: one delivery per story, not one per syndicated copy.
    story_id        bigint NOT NULL,
    article_cursor  bigint NOT NULL,  -- the article's cursor when it was matched: the sending order
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'cancelled', 'skipped')),
    attempts        integer NOT NULL DEFAULT 0,
    response_code   integer,
    error           text,
    next_attempt_at timestamptz,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- A re-sent plan or task can never log (nor send) one article twice to one subscription.
    UNIQUE (subscription_id, article_id)
);
CREATE INDEX deliveries_story_idx ON deliveries (subscription_id, story_id);
CREATE INDEX deliveries_pending_idx ON deliveries (subscription_id, article_cursor, id) WHERE status = 'pending';
CREATE INDEX deliveries_article_idx ON deliveries (article_id);

-- Every HTTP attempt of a delivery, failed or not: the delivery log editors and operators read.
CREATE TABLE delivery_attempts (
    delivery_id   bigint NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    attempt       integer NOT NULL,
    attempted_at  timestamptz NOT NULL,
    duration_ms   integer NOT NULL,
    response_code integer,
    outcome       text NOT NULL,
    error         text,
    PRIMARY KEY (delivery_id, attempt)
);

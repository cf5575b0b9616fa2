-- Topics editors own (their rules are data, loaded from YAML) and the tags articles get, with the evidence.
-- depends: 0001_core

CREATE TABLE topics (
    id          bigserial PRIMARY KEY,
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]*$'),
    name        text NOT NULL,
    description text,
    rules       jsonb NOT NULL,     -- any / all / exclude / languages / weights / min_score, see seeds/topics.yaml
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE article_topics (
    article_id    bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    topic_id      bigint NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    score         real NOT NULL,
    -- [{"term", "title", "body", "points"}]: which rule terms matched, where and how often, so an editor
    -- can see why an article is in a topic.
    matched_terms jsonb NOT NULL,
    tagged_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (article_id, topic_id)
);
-- "The latest articles of a topic": article ids grow with ingestion, so this walks a topic newest first
-- (and serves ON DELETE CASCADE from topics).
CREATE INDEX article_topics_topic_idx ON article_topics (topic_id, article_id DESC);

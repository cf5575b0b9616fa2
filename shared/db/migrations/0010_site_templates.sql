-- Site templates (issue 15): which lines each host prints on many of its pages, so cleaning can drop a sign-off,
-- a "follow us" prompt or a related-links heading in any language. Only 64-bit keys of lines are kept, never
-- text. site_template_pages counts each page once (a retried or re-extracted item adds nothing); both tables
-- are bounded per host by shared/db/site_templates.py (pruned on record).
-- depends: 0007_stats_indexes

CREATE TABLE site_template_pages (
    host        text        NOT NULL,
    page_key    bigint      NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, page_key)
);

CREATE TABLE site_template_lines (
    host      text        NOT NULL,
    line_key  bigint      NOT NULL,
    pages     integer     NOT NULL,
    last_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, line_key)
);
-- The load: a host's lines seen on enough pages.
CREATE INDEX site_template_lines_template_idx ON site_template_lines (host, pages DESC);

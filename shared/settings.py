"""The one home of newsmill's configuration: every NEWSMILL_ variable, its default, validated at start."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.allowlist import parse_allowlist

REDIS_SCHEMES = ("redis", "rediss", "unix")


def _f(default: Any, doc: str, **limits: float | str) -> Any:
    return cast("Any", Field)(default=default, description=doc, **limits)


class Settings(BaseSettings):
    """Read once from the environment (prefix ``NEWSMILL_``); an invalid value fails at start-up."""

    model_config = SettingsConfigDict(env_prefix="NEWSMILL_", extra="ignore", frozen=True)

    # Services
    database_url: str = _f("postgresql://127.0.0.1:5432/newsmill", "PostgreSQL URL (libpq form).")
    redis_url: str = _f("redis://127.0.0.1:6379/0", "Redis URL: the Celery broker and the shared host limiter.")
    data_dir: Path | None = _f(None, "Embedded services' data and caches; default: the user's data dir.")

    # Polling policy (seconds)
    poll_interval: int = _f(900, "Nominal seconds between polls of a feed with no better evidence.", gt=0)
    poll_min_interval: int = _f(300, "Never poll one feed more often than this (seconds).", gt=0)
    poll_max_interval: int = _f(86_400, "Never wait longer than this between polls, even failing (s).", gt=0)
    dispatch_every: float = _f(2.0, "How often beat asks the dispatcher for due feeds (seconds).", gt=0)
    dispatch_batch: int = _f(1_000, "Feeds claimed per dispatcher run.", gt=0)
    poll_lease: int = _f(600, "A claimed feed is due again after this if its poll was lost (s).", gt=0)
    max_queue_depth: int = _f(5_000, "No polls are enqueued while the feeds queue holds this many messages.", gt=0)
    max_entries_per_poll: int = _f(1_000, "Entries read from one feed document; the rest are skipped.", gt=0)

    # Sweeper
    sweep_every: float = _f(60.0, "How often the sweeper looks for items whose state has not moved (s).", gt=0)
    stuck_after: int = _f(300, "An item whose state has not moved for this long is re-enqueued (s).", gt=0)
    max_attempts: int = _f(5, "Tries of one item (transient failures, killed workers) before it fails.", gt=0)
    retry_base_delay: float = _f(30.0, "First retry delay of an item after a transient failure; doubles (s).", gt=0)

    # Outbound HTTP
    allow_private_hosts: bool = _f(False, "Allow fetching private, loopback and link-local addresses.")
    private_allowlist: str = _f(
        "", "Private destinations allowed anyway, comma-separated: CIDR (all ports), CIDR:port or CIDR:port-port."
    )
    user_agent: str = _f("newsmill/0.1 (+https://github.com/newsmill/newsmill)", "User-Agent of every request.")
    connect_timeout: float = _f(5.0, "Seconds to establish a connection.", gt=0)
    read_timeout: float = _f(10.0, "Seconds without a byte before a read fails.", gt=0)
    total_timeout: float = _f(30.0, "Seconds for a whole fetch, redirects included.", gt=0)
    max_response_bytes: int = _f(10 * 1024 * 1024, "Largest body accepted, after decompression (bytes).", gt=0)
    max_redirects: int = _f(5, "Redirects followed per fetch.", ge=0, le=20)
    host_min_delay: float = _f(1.0, "Seconds between two requests to one host, across all workers.", ge=0)
    host_max_concurrency: int = _f(2, "Requests in flight to one host, across all workers.", gt=0)
    respect_robots: bool = _f(True, "Honour robots.txt for article fetches.")
    max_server_delay: float = _f(
        21_600.0, "Longest a server's Retry-After holds its host back, for every worker (seconds).", gt=0
    )

    # Extraction limits (trafilatura's Python API has no timeout of its own)
    extract_soft_time_limit: int = _f(60, "Seconds before an extraction is stopped and the item failed.", gt=0)
    extract_time_limit: int = _f(90, "Seconds before the extracting process is killed and replaced.", gt=0)
    extract_mode: Literal["auto", "full", "fast"] = _f(
        "auto",
        "auto: trafilatura's fast mode (on the page's marked article container first), its full cascade "
        "for a suspected miss; full: always, on the whole page; fast: never.",
    )
    extract_fast: bool = _f(False, "Deprecated: true is NEWSMILL_EXTRACT_MODE=fast.")
    fetch_batch: int = _f(4, "New items fetched by one task, in turn: fewer messages, but a slow page delays the rest. "
                          "A host the politeness gate refuses is not asked again in the batch: its items go back "
                          "together.", gt=0, le=100)  # fmt: skip
    extract_batch: int = _f(16, "Items extracted and published by one task, in one transaction.", gt=0, le=200)
    worker_max_tasks_per_child: int = _f(200, "Tasks before a worker process is replaced.", gt=0)
    worker_max_memory_per_child_kb: int = _f(400_000, "Resident KiB after which a process is replaced.", gt=0)

    # Enrichment
    dedup_threshold: float = _f(0.8, "Similarity from which an article is a near-duplicate (0..1].", gt=0, le=1)
    language_min_chars: int = _f(12, "Shorter texts get language 'und' unless a page/feed hint decides.", gt=0)
    language_prefix_chars: int = _f(600, "Characters of text language detection reads (its cost grows with it).", gt=0)

    # Retention
    raw_html_retention_days: int = _f(30, "Raw HTML older than this is pruned (article text stays).", gt=0)

    # API
    admin_token: str | None = _f(None, "Bearer token for managing topics, feeds and subscriptions over HTTP.")
    public_read: bool = _f(True, "Serve topic feeds, pages and /articles to anyone; false: admin token only.")
    api_host: str = _f("127.0.0.1", "Address `newsmill api` listens on.")
    api_port: int = _f(8000, "Port `newsmill api` listens on.", gt=0)
    public_url: str = _f("http://127.0.0.1:8000", "Base URL used in feed links and subscription URLs.")
    api_feed_state_ttl: float = _f(1.0, "Seconds a topic feed's state is reused before asking the database.", ge=0)
    cors_origins: str = _f("", "Comma-separated origins (or *) whose pages may read the API (GET/HEAD) by CORS.")

    # Webhook deliveries (subscriptions)
    deliver_every: float = _f(5.0, "How often beat matches new articles to webhooks and sends what is due (s).", gt=0)
    webhook_timeout: float = _f(10.0, "Seconds for one webhook POST, connecting included.", gt=0)
    webhook_retry_base_delay: float = _f(30.0, "Wait after a webhook's first failed attempt; doubles (s).", gt=0)
    webhook_retry_max_delay: float = _f(3_600.0, "Longest wait between two attempts of a webhook (s).", gt=0)
    webhook_max_failures: int = _f(10, "Failed attempts in a row after which a webhook is paused.", gt=0)

    # WebSub hub and e-mail digests
    websub_max_subscriptions: int = _f(10_000, "WebSub subscriptions (and pending requests) the hub accepts.", gt=0)
    smtp_host: str | None = _f(None, "SMTP server for subscriptions' daily digests; unset: no digest is sent.")
    smtp_port: int = _f(587, "SMTP port.", gt=0)
    smtp_security: str = _f("starttls", "SMTP connection security: starttls, ssl (implicit TLS) or none.",
                            pattern="^(starttls|ssl|none)$")  # fmt: skip
    smtp_username: str | None = _f(None, "SMTP user name (unset: no authentication).")
    smtp_password: str | None = _f(None, "SMTP password.")
    smtp_from: str = _f("newsmill <newsmill@localhost>", "From: address of digests.")
    digest_hour: int = _f(6, "Hour of the day (UTC) daily digests are sent from.", ge=0, le=23)

    # Search
    search_index_every: float = _f(5.0, "How often beat indexes newly published articles for search (s).", gt=0)

    # Observability
    metrics_port: int | None = _f(None, "Serve Prometheus metrics on this port (workers, beat).", gt=0)
    task_events: bool = _f(False, "Workers send Celery task events (`celery events`; Flower turns them on itself).")

    # Logging
    log_level: str = _f("INFO", "Log level.")
    log_json: bool | None = _f(None, "JSON log lines (default: when stderr is not a terminal).")

    @property
    def extraction_mode(self) -> Literal["auto", "full", "fast"]:
        """NEWSMILL_EXTRACT_MODE, with the deprecated NEWSMILL_EXTRACT_FAST=true meaning 'fast'."""
        return "fast" if self.extract_fast else self.extract_mode

    @field_validator("private_allowlist")
    @classmethod
    def _allowlist_parses(cls, value: str) -> str:
        parse_allowlist(value)  # a typo fails at start-up, not at the first fetch
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        """A URL libpq accepts (postgresql://… or key=value pairs), so a typo stops the process at start,
        not at its first query."""
        from psycopg import ProgrammingError  # noqa: PLC0415 - keep psycopg off the import of settings
        from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415

        try:
            conninfo_to_dict(value)
        except ProgrammingError as exc:
            reason = " ".join(str(exc).split())
            raise ValueError(
                f"not a PostgreSQL URL ({reason}); expected postgresql://[user@]host[:port]/dbname"
            ) from exc
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        if urlsplit(value).scheme not in REDIS_SCHEMES:
            raise ValueError("not a Redis URL; expected redis://host[:port]/db (or rediss://, unix://)")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()


def describe() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting: the source of the README's table."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = "" if field.default is None else str(field.default)
        rows.append((f"NEWSMILL_{name.upper()}", default, field.description or ""))
    return rows

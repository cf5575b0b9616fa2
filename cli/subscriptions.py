"""`newsmill subscriptions`: editors' private feeds and webhooks: add, list, revoke, resume, and the delivery log."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import typer
from rich.console import Console

from cli.errors import FAILED, CommandError
from cli.tables import columns, print_table
from shared.db import deliveries, subscriptions
from shared.db.connection import connect
from shared.db.subscriptions import InvalidSubscriptionError, Subscription
from shared.schedule import next_digest_at
from shared.settings import get_settings

app = typer.Typer(help="Private topic feeds and signed webhooks for editors.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _target(sub: Subscription) -> str:
    """Where a subscription goes, without its credentials: webhook URLs often carry a token (Slack's do)."""
    if sub.kind == "feed":
        return "private feed"
    parts = urlsplit(sub.webhook_url or "")
    return f"{parts.scheme}://{parts.hostname}{':' + str(parts.port) if parts.port else ''}/…"


@app.command("add")
def add(
    email: str = typer.Option(..., "--email", help="Who the subscription is for (shown in `list`)."),
    topics: str = typer.Option(..., "--topics", help="Comma-separated topic slugs, e.g. ukraine,energy."),
    lang: str | None = typer.Option(None, "--lang", help="Comma-separated languages, e.g. fr,en (default: all)."),
    webhook: str | None = typer.Option(None, "--webhook", help="POST each new matching article to this URL."),
    digest: str = typer.Option("none", "--digest", help="daily: e-mail the new stories once a day (NEWSMILL_SMTP_*)."),
) -> None:
    """Subscribe to topics. Prints the private feed URLs, or the webhook's signing secret: ONCE, never again."""
    s = get_settings()
    due = next_digest_at(datetime.now(UTC), s.digest_hour)
    with connect(s.database_url, autocommit=True) as conn:
        try:
            created = subscriptions.create_subscription(conn, email, _split(topics), _split(lang), webhook,
                                                        digest=digest, digest_due_at=due)  # fmt: skip
        except InvalidSubscriptionError as exc:
            raise CommandError(str(exc)) from exc
    sub = created.subscription
    err.print(f"subscription [bold]{sub.id}[/] for {sub.email}: {', '.join(sub.topics)}", highlight=False)
    # Printed plainly on stdout so scripts can capture them; they are not stored and cannot be shown again.
    for fmt, url in created.feed_urls(s.public_url).items():
        typer.echo(f"{fmt}: {url}")
    if created.secret is not None:
        typer.echo(f"secret: {created.secret}")
    err.print("[yellow]Keep this now: it is not stored in clear (feeds) or shown again.[/]")
    if sub.digest == "daily":
        where = "" if s.smtp_host else " [yellow](NEWSMILL_SMTP_HOST is not set: none is sent yet)[/]"
        err.print(f"daily digest to {sub.email} from {due:%Y-%m-%d %H:%M} UTC{where}", highlight=False)


@app.command("list")
def list_(all_: bool = typer.Option(False, "--all", help="Include revoked subscriptions.")) -> None:
    """Subscriptions with their state, failures and deliveries (credentials are never shown)."""
    rows = []
    with connect(get_settings().database_url, autocommit=True) as conn:
        counts = deliveries.counts_by_subscription(conn)
        for sub in subscriptions.list_subscriptions(conn, include_revoked=all_):
            shown = " ".join(f"{k}={v}" for k, v in sorted(counts.get(sub.id, {}).items())) or "-"
            rows.append([str(sub.id), sub.email, sub.kind, ",".join(sub.topics), ",".join(sub.languages) or "all",
                         sub.state, _target(sub), str(sub.consecutive_failures), shown, sub.digest])  # fmt: skip
    headers = ("id", "email", "kind", "topics", "languages", "state", "target", "failures", "deliveries", "digest")
    print_table(console, columns(*headers, right=("id", "failures")), rows)


@app.command("revoke")
def revoke(subscription_id: int = typer.Argument(..., help="The subscription's id.")) -> None:
    """Kill a subscription for good: its feed URL answers 404, its webhook gets nothing more."""
    with connect(get_settings().database_url, autocommit=True) as conn, conn.transaction():
        if not subscriptions.revoke(conn, subscription_id):
            raise CommandError(f"no live subscription {subscription_id}", FAILED)
        cancelled = deliveries.cancel_pending(conn, subscription_id)
    console.print(f"revoked {subscription_id}; {cancelled} pending deliveries cancelled")


@app.command("resume")
def resume(subscription_id: int = typer.Argument(..., help="The paused webhook's id.")) -> None:
    """Re-arm a webhook paused after repeated failures; what it missed meanwhile is sent, in order."""
    with connect(get_settings().database_url, autocommit=True) as conn:
        if not subscriptions.resume(conn, subscription_id, datetime.now(UTC)):
            hint = "see `newsmill subscriptions list`"
            raise CommandError(f"subscription {subscription_id} is not paused ({hint})", FAILED)
        pending = deliveries.counts_by_status(conn, subscription_id).get("pending", 0)
    console.print(f"resumed {subscription_id}; {pending} deliveries pending")


@app.command("log")
def log(
    subscription_id: int = typer.Argument(..., help="The webhook's id."),
    limit: int = typer.Option(20, "--limit", min=1, help="How many attempts, newest first."),
) -> None:
    """The webhook's latest delivery attempts: when, which article, the answer and the error."""
    with connect(get_settings().database_url, autocommit=True) as conn:
        attempts = deliveries.delivery_log(conn, subscription_id, limit)
    headers = ("delivery", "article", "attempt", "at", "ms", "code", "outcome", "error")
    print_table(
        console,
        columns(*headers, right=("delivery", "article", "attempt", "ms", "code")),
        ([str(a.delivery_id), str(a.article_id), str(a.attempt), a.attempted_at.isoformat(), str(a.duration_ms),
          str(a.response_code or "-"), a.outcome, a.error or ""] for a in attempts),
    )  # fmt: skip

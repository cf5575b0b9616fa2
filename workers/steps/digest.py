"""The e-mail digest stage: once a day, each subscription with ``digest = daily`` gets the stories first
published in its topics since its last digest, at its e-mail address, over SMTP (NEWSMILL_SMTP_*).

A subscription's row is locked while its digest is composed and sent, and its cursor moves in the same
transaction: two workers never send one digest twice. A mail server that refuses or is away is tried again
at a later tick (the cursor stays); an empty digest is not sent, its day just passes.
"""

from __future__ import annotations

import html
import logging
import smtplib
import ssl
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import psycopg

from shared.db import subscriptions
from shared.db.subscriptions import Subscription
from shared.db.topic_feed import Story, attach_other_reports
from shared.schedule import next_digest_at
from shared.settings import Settings

log = logging.getLogger(__name__)

DIGEST_STORIES = 50
RETRY_AFTER = timedelta(minutes=15)  # a refused or unreachable mail server is tried again this much later
MAX_DIGESTS_PER_RUN = 200
SUMMARY_CHARS = 280
Sender = Callable[[EmailMessage], None]


def _summary(text: str) -> str:
    first = next((p.strip() for p in text.splitlines() if p.strip()), "")
    return first if len(first) <= SUMMARY_CHARS else first[:SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"


def _web(url: str) -> str:
    return url if url.lower().startswith(("http://", "https://")) else ""


def compose(sub: Subscription, stories: Sequence[Story], s: Settings, now: datetime) -> EmailMessage:
    """The digest as a multipart e-mail: plain text, and HTML built from escaped text only."""
    topics = ", ".join(sub.topics)
    message = EmailMessage()
    message["Subject"] = f"newsmill: {len(stories)} new {'story' if len(stories) == 1 else 'stories'} in {topics}"
    message["From"] = s.smtp_from
    message["To"] = sub.email
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain="newsmill")
    lines, items = [f"New in {topics} since your last digest:", ""], []
    for story in stories:
        a = story.article
        others = ", ".join(dict.fromkeys(o.site or o.url for o in story.also_reported))
        when = (a.published_at or a.fetched_at).strftime("%Y-%m-%d %H:%M UTC")
        lines += [a.title or "(untitled)", f"{a.site or ''} · {when}".strip(" ·"), _summary(a.text), a.url]
        lines += [f"Also reported by: {others}", ""] if others else [""]
        items.append(
            f'<li><a href="{html.escape(_web(a.url))}">{html.escape(a.title or "(untitled)")}</a>'
            f"<br><small>{html.escape(a.site or '')} · {html.escape(when)}</small>"
            f"<br>{html.escape(_summary(a.text))}"
            + (f"<br><small>Also reported by: {html.escape(others)}</small>" if others else "")
            + "</li>"
        )
    footer = f"Subscription {sub.id} of {s.public_url}: ask its administrator to change or revoke it."
    message.set_content("\n".join([*lines, "--", footer]) + "\n")
    body = f"<p>New in {html.escape(topics)} since your last digest:</p><ul>{''.join(items)}</ul>"
    message.add_alternative(f"<!DOCTYPE html><html><body>{body}<hr><p><small>{html.escape(footer)}</small></p>"
                            "</body></html>", subtype="html")  # fmt: skip
    return message


def smtp_sender(s: Settings) -> Sender:
    """Send with the configured SMTP server: STARTTLS (default), implicit TLS or plain, with login if set."""

    def send(message: EmailMessage) -> None:
        assert s.smtp_host, "NEWSMILL_SMTP_HOST is not set"
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if s.smtp_security == "ssl":
            client = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.webhook_timeout, context=context)
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.webhook_timeout)
        with client:
            if s.smtp_security == "starttls":
                client.starttls(context=context)
            if s.smtp_username:
                client.login(s.smtp_username, s.smtp_password or "")
            client.send_message(message)

    return send


def send_due_digests(conn: psycopg.Connection, now: datetime, s: Settings, send: Sender) -> int:
    """Send every digest that is due (at most MAX_DIGESTS_PER_RUN); returns how many e-mails went out."""
    sent = 0
    for _ in range(MAX_DIGESTS_PER_RUN):
        with conn.transaction():
            sub = subscriptions.take_due_digest(conn, now)
            if sub is None:
                break
            articles, upto = subscriptions.digest_articles(conn, sub, DIGEST_STORIES)
            next_due = next_digest_at(now, s.digest_hour)
            if not articles:
                subscriptions.record_digest(conn, sub.id, upto, next_due, None)
                continue
            try:
                send(compose(sub, attach_other_reports(conn, articles), s, now))
            except (smtplib.SMTPException, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}"
                subscriptions.record_digest(conn, sub.id, None, now + RETRY_AFTER, error)
                log.warning("digest not sent", extra={"subscription_id": sub.id, "error": error})
                continue
            subscriptions.record_digest(conn, sub.id, upto, next_due, None)
            sent += 1
            log.info("digest sent", extra={"subscription_id": sub.id, "stories": len(articles)})
    return sent

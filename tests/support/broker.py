"""Reading what waits in the real Redis broker: the item ids of the Celery messages in a queue."""

from __future__ import annotations

import base64
import json

import redis


def queued_args(redis_url: str, queue: str, task: str) -> list[list[object]]:
    """The positional arguments of every ``task`` message waiting in ``queue`` (kombu's Redis layout:
    a list of JSON envelopes whose body is the base64 of ``[args, kwargs, embed]``)."""
    client = redis.Redis.from_url(redis_url)
    try:
        raw = client.lrange(queue, 0, -1)
    finally:
        client.close()
    out = []
    for entry in raw:
        envelope = json.loads(entry)
        if envelope["headers"]["task"] != task:
            continue
        body = envelope["body"]
        if envelope["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args, _kwargs, _embed = json.loads(body)
        out.append(args)
    return out

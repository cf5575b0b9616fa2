"""The real Redis broker: the arguments of the Celery messages waiting in a queue, and sending one as any
producer would."""

from __future__ import annotations

import base64
import json

import redis
from celery import Celery


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


def send_task(redis_url: str, task: str, args: tuple[object, ...], queue: str) -> None:
    """Put one ``task`` message on ``queue``, as a producer that does not import newsmill would."""
    producer = Celery("test-producer", broker=redis_url)
    try:
        producer.send_task(task, args=args, queue=queue)
    finally:
        producer.close()

"""The Celery application: broker, queues, reliability settings and the beat schedule, all from Settings."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile


def _own_metrics_dir() -> None:
    """Prefork children write their metrics to files in this folder; prometheus_client reads the variable when
    first imported, so it is set before anything below imports it. The process that made the folder removes it
    at exit (forked children inherit the handler, hence the pid check), so restarts leave nothing in /tmp."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        return
    path, creator = tempfile.mkdtemp(prefix="newsmill-metrics-"), os.getpid()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path

    def remove() -> None:
        if os.getpid() == creator:
            shutil.rmtree(path, ignore_errors=True)

    atexit.register(remove)


_own_metrics_dir()

import logging
import time
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import (
    beat_init,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_init,
    worker_ready,
)
from kombu import Queue

from scheduler.beat import beat_schedule, stop_between_sends
from shared.cpus import available_cpus
from shared.db.connection import require_current_schema
from shared.logs import bind_task_ids, configure_logging, unbind_task_ids
from shared.metrics import serve_pipeline_metrics, serve_worker_metrics
from shared.settings import get_settings

# One queue per stage, so IO-bound and CPU-bound work scale independently.
QUEUES = ("feeds", "fetch", "extract", "enrich", "deliver")
ROUTES = {
    "newsmill.dispatch_due_feeds": {"queue": "feeds"},
    "newsmill.sweep_stale_items": {"queue": "feeds"},
    "newsmill.prune_raw_html": {"queue": "feeds"},
    "newsmill.poll_feeds": {"queue": "feeds"},
    "newsmill.poll_feed": {"queue": "feeds"},
    "newsmill.fetch_items": {"queue": "fetch"},
    "newsmill.fetch_item": {"queue": "fetch"},
    "newsmill.extract_items": {"queue": "extract"},
    "newsmill.extract_item": {"queue": "extract"},
    "newsmill.enrich_items": {"queue": "enrich"},
    "newsmill.enrich_item": {"queue": "enrich"},
    # Webhooks on their own queue and workers: a slow receiver never holds up ingestion.
    "newsmill.deliver_*": {"queue": "deliver"},
    # What follows the publication cursor (workers/follower_tasks.py) runs there too, off the ingestion path.
    "newsmill.search_index": {"queue": "deliver"},
}


def create_app() -> Celery:
    s = get_settings()
    celery = Celery(
        "newsmill", broker=s.redis_url, include=["workers.tasks", "workers.delivery_tasks", "workers.follower_tasks"]
    )
    celery.conf.update(
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="feeds",
        task_routes=ROUTES,
        task_ignore_result=True,
        # At-least-once: a message is acknowledged only after its task ran, and given back to the broker
        # when the worker process dies under it. Tasks are idempotent, so a second delivery is harmless.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 3600},
        # A pool without -c gets one process per CPU the container may use, not per host CPU.
        worker_concurrency=available_cpus(),
        worker_max_tasks_per_child=s.worker_max_tasks_per_child,
        worker_max_memory_per_child=s.worker_max_memory_per_child_kb,
        worker_hijack_root_logger=False,
        # Off by default: three events per task cost the IO worker ~10 % of its polls/s (docs/performance.md),
        # and Flower switches them on at run time over the control channel when it is watching.
        worker_send_task_events=s.task_events,
        beat_schedule=beat_schedule(s),
        beat_schedule_filename=str(Path(tempfile.gettempdir()) / "newsmill-celerybeat-schedule"),
        timezone="UTC",
    )
    return celery


app = create_app()


@setup_logging.connect
def _our_logging_only(**_: Any) -> None:
    # Connected, so Celery adds no handler of its own (beat would log every line twice).
    configure_logging(get_settings())


@worker_init.connect
def _refuse_unmigrated_database(sender: Any = None, **_: Any) -> None:
    configure_logging(get_settings())
    require_current_schema(get_settings().database_url)
    queues = set(getattr(sender, "app", app).amqp.queues.consume_from or ())
    if queues & {"feeds", "fetch", "deliver"}:  # not on the first poll: the CA bundle takes a second to load
        from shared.http_client import ssl_context  # noqa: PLC0415

        ssl_context()
    if queues & {"extract", "enrich"}:  # the CPU stages: warm the parent its pool processes are forked from
        from workers.warmup import warm_up  # noqa: PLC0415 - only CPU workers pay for it

        started = time.process_time()
        warm_up()
        logging.getLogger(__name__).info("CPU stages warmed up", extra={"cpu_seconds": time.process_time() - started})


@worker_ready.connect
def _serve_worker_metrics(**_: Any) -> None:
    if port := get_settings().metrics_port:
        serve_worker_metrics(port)


@beat_init.connect
def _beat_checks_schema(**_: Any) -> None:
    s = get_settings()
    configure_logging(s)
    require_current_schema(s.database_url)
    if s.metrics_port:  # the pipeline gauges are served once, by the one beat
        serve_pipeline_metrics(s.metrics_port, s.database_url, s.redis_url)


@beat_init.connect
def _beat_stops_between_sends(sender: Any = None, **_: Any) -> None:
    if sender is not None:  # the beat Service: celery installed its signal handlers just before
        stop_between_sends(sender)


@worker_process_init.connect
def _fresh_connections_after_fork(**_: Any) -> None:
    # Connections and pools must never be shared across a fork.
    from workers import resources  # noqa: PLC0415 - imported late on purpose, after the fork

    resources.reset()
    logging.getLogger(__name__).debug("worker process ready")


@task_prerun.connect
def _task_started(task: Any, args: Any = (), kwargs: Any = None, **_: Any) -> None:
    # Every log line of the task carries its ids.
    bind_task_ids(task.name, task.run, args or (), kwargs or {})


@task_postrun.connect
def _task_ended(**_: Any) -> None:
    unbind_task_ids()

"""The compose test's news site, run in a container of the newsmill image on the fleet's internal network.

One server (bench/site.py's) answers for two sites under one host name: the demo site (seeds/demo, rendered by
cli/demo_site.py: four sources, RSS and Atom, articles with known languages and topics) and ``--pages`` saved
article pages (bench/site.py: the pages in NEWSMILL_BENCH_PAGES_DIR, copies beyond them) listed by RSS feeds
``/feeds/N.xml`` of ``--per-feed`` entries. Run as ``python -m tests.support.compose_site`` with the source
tree on PYTHONPATH; it stops on SIGTERM (it is the container's process 1, which has no default handler).
"""

from __future__ import annotations

import argparse
import signal
import threading

from bench.site import Route, Site, add_article_feeds, article_site, serve
from cli.demo_site import load_site, render_site


def add_demo_site(site: Site) -> None:
    """The demo site's pages and feeds, with their ETags (a re-poll is answered 304), on the first host."""
    for path, page in render_site(load_site(), site.base(0)).items():
        site.routes[path.encode()] = Route(page.content_type.encode(), page.body, etag=page.etag.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True, help="this container's name on the network: the URLs' host")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--pages", type=int, default=0, help="saved article pages to serve")
    parser.add_argument("--per-feed", type=int, default=50)
    args = parser.parse_args()
    site = article_site(args.pages, hosts=1, per_feed=args.per_feed)
    site.hosts = [args.host]  # the container's address on the network, and the name in every URL

    def prepare(site: Site) -> None:
        add_article_feeds(site)
        add_demo_site(site)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with serve(site, prepare, port=args.port):
        print(f"serving {site.base(0)}: the demo site and {site.pages} pages", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Start the local PostgreSQL and Redis that the tests talk to, if they are not running already, and install
# what the tests run besides Python (each only when missing; README.md, "Quickstart", lists them):
# chromium and chromedriver, the headless browser of tests/test_pages_browser.py; promtool (Debian's
# `prometheus` package), which tests/test_deploy.py uses to check deploy/monitoring/; wrk, the load generator
# of the serving benchmark (bench/feeds_http.py; without it a Python client stands in); and nginx, which runs
# the shipped caching proxy config in tests/test_proxy.py and the serving benchmark.
set -euo pipefail
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  else
    echo "PostgreSQL is not running on 127.0.0.1:5432 and pg_ctlcluster is not available" >&2; exit 1
  fi
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
echo "PostgreSQL and Redis are up on 127.0.0.1"
if ! [ -x /usr/bin/chromium ] || ! [ -x /usr/bin/chromedriver ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends chromium chromium-driver \
    || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends chromium chromium-driver; }
fi
if ! command -v promtool >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y --no-install-recommends prometheus \
    || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends prometheus; } \
    || echo "could not install promtool (Debian package prometheus); tests/test_deploy.py needs it" >&2
fi
if ! command -v wrk >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends wrk \
    || echo "could not install wrk; the serving benchmark falls back to a Python load generator" >&2
fi
if ! command -v nginx >/dev/null 2>&1 && ! [ -x /usr/sbin/nginx ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends nginx-light \
    || echo "could not install nginx (Debian package nginx-light); tests/test_proxy.py needs it" >&2
fi

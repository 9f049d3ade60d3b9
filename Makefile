# Set-up is part of each target: a fresh clone needs only `make run` or `make test`.
UV_VERSION := 0.13.9
UV := .tools/bin/uv
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench screenshots

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# Byte-compiled once here: every process the tests start (CLI, workers, servers) then skips
# compiling the dependencies, also where PYTHONDONTWRITEBYTECODE keeps Python from caching.
.venv: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode
	touch .venv

run: .venv
	$(UV) run --frozen contactflow serve --demo --host $(HOST) --port $(PORT)

lint: .venv
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy

# The dashboard's browser tests drive Debian's chromium (Playwright never downloads one).
/usr/bin/chromium:
	apt-get update -qq && apt-get install -y -qq chromium

# The cluster test (tests/platform/test_cluster.py) balances two API processes with haproxy.
/usr/sbin/haproxy:
	apt-get update -qq && apt-get install -y -qq haproxy

test: lint /usr/bin/chromium /usr/sbin/haproxy
	$(UV) run --frozen python -m compileall -q src
	$(UV) run --frozen pytest -n 3 --dist worksteal --max-worker-restart=0 --durations=15 --basetemp="$$(mktemp -d)"

# The pictures of docs/dashboard.md, taken anew from a demo server.
screenshots: .venv /usr/bin/chromium
	$(UV) run --frozen python -m tests.web.screenshots

# The benchmarks drive their load with Debian's wrk; bench.deliveries sends webhooks to nginx
# (a sink that is never the bottleneck).
/usr/sbin/nginx /usr/bin/wrk:
	apt-get update -qq && apt-get install -y -qq nginx wrk

bench: .venv /usr/sbin/nginx /usr/bin/wrk
	$(UV) run --frozen python -m bench.api
	$(UV) run --frozen python -m bench.web
	$(UV) run --frozen python -m bench.deliveries
	$(UV) run --frozen python -m bench.memory

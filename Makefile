# Leadflow: `make run` starts the service on embedded defaults, `make test` runs the whole suite.
# Both bootstrap their own environment: uv (installed with pip when missing), the venv, dependencies from uv.lock.

SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
export UV_PYTHON_PREFERENCE ?= system
LEADFLOW_HOST ?= 127.0.0.1
LEADFLOW_PORT ?= 8000
# One test process per core; each has its own database (see tests/conftest.py). Tests marked with the same
# xdist_group run in one process, so a module's expensive fixture (the nginx topology of tests/deploy/) is built once.
PYTEST_ARGS ?= -n auto --dist loadgroup
# Coverage (line and branch) is reported by default; `make test COV=` runs without it (about 40 % faster).
COV ?= --cov --cov-report=term

.PHONY: run test lint security docs format bootstrap openapi clean bench

bootstrap: .venv/.synced

$(UV):
	@command -v uv >/dev/null 2>&1 || python3 -m pip install --user --quiet uv || python3 -m pip install --quiet --break-system-packages uv

# Bytecode is compiled at install time: where PYTHONDONTWRITEBYTECODE is set, every process (each server and CLI the
# suite starts) would otherwise compile its imports from source again (about 4 s of CPU each on a 2-core machine).
.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

run: bootstrap
	$(UV) run leadflow migrate upgrade
	$(UV) run leadflow seed-demo
	LEADFLOW_HOST=$(LEADFLOW_HOST) LEADFLOW_PORT=$(LEADFLOW_PORT) $(UV) run leadflow serve

test: bootstrap
	@$(UV) run python -m compileall -q -j 0 src tests >/dev/null
	$(UV) run pytest $(COV) $(PYTEST_ARGS)

lint: bootstrap
	$(UV) run ruff check src tests
	$(UV) run ruff format --check src tests
	$(UV) run mypy
	$(UV) run lint-imports --no-cache
	@tmp=$$(mktemp -d) && LEADFLOW_DATA_DIR=$$tmp $(UV) run leadflow migrate upgrade >/dev/null && LEADFLOW_DATA_DIR=$$tmp $(UV) run leadflow migrate check; rc=$$?; rm -rf $$tmp; exit $$rc

# Security checks (CI runs them): bandit over src/ fails on high-severity findings (configured in pyproject.toml), and
# pip-audit checks the locked runtime requirements against PyPI's vulnerability data. That service
# (pypi.org/pypi/NAME/VERSION/json) is not reachable everywhere; where it is not, the audit says so and is skipped,
# unless LEADFLOW_REQUIRE_AUDIT is set (GitHub Actions sets it), which makes it a failure.
AUDIT_PROBE := https://pypi.org/pypi/pip/24.0/json
security: bootstrap
	$(UV) run bandit --quiet --configfile pyproject.toml --recursive src --severity-level high
	@req=$$(mktemp) && trap 'rm -f $$req' EXIT; \
	$(UV) export --frozen --format requirements-txt --no-dev --no-emit-project --quiet >$$req || exit 1; \
	if $(UV) run python -c "import urllib.request as u; u.urlopen('$(AUDIT_PROBE)', timeout=10)" 2>/dev/null; then \
	  $(UV) run pip-audit --strict --disable-pip --require-hashes --progress-spinner off --requirement $$req; \
	elif [ -n "$$LEADFLOW_REQUIRE_AUDIT" ]; then \
	  echo "dependency audit: PyPI's vulnerability data ($(AUDIT_PROBE)) cannot be reached"; exit 1; \
	else \
	  echo "dependency audit skipped: PyPI's vulnerability data ($(AUDIT_PROBE)) cannot be reached from here"; \
	fi

# The documentation site (MkDocs, the `docs` dependency group), built strictly and with no network: Mermaid is
# vendored under docs/js/vendor/.
docs: bootstrap
	$(UV) run --group docs mkdocs build --strict --site-dir site

# The benchmark of SPEC §13 (docs/performance.md): PostgreSQL with the large data set (created and loaded when
# missing), `leadflow serve` and the bare FastAPI endpoint, every scenario under wrk (closed loop) and paced; rewrites
# docs/performance.{md,json,svg}. BENCH_ARGS passes options: BENCH_ARGS="--quick", "--only list get_one",
# "--workers 2", "--url http://127.0.0.1:8000" (see `uv run --group bench python bench/report.py --help`).
BENCH_ARGS ?=
bench: bootstrap
	@command -v wrk >/dev/null 2>&1 || { echo "make bench needs wrk (the closed-loop load generator): on Debian or Ubuntu 'sudo apt-get install wrk', on macOS 'brew install wrk'"; exit 2; }
	$(UV) run --group bench python bench/report.py $(BENCH_ARGS)

format: bootstrap
	$(UV) run ruff format src tests
	$(UV) run ruff check --fix src tests

openapi: bootstrap
	$(UV) run leadflow openapi --output docs/openapi.json

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov

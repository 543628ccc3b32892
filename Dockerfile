# syntax=docker/dockerfile:1
# Leadflow: one image for the API (`leadflow serve`) and the worker (`leadflow worker`), see compose.yaml.
# Build: docker build -t leadflow .
# Stage 1 resolves nothing: it installs exactly uv.lock (no dev groups) into /app/.venv with uv.
# Stage 2 is the slim runtime: the venv, no compiler, no uv, a non-root user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.10
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Dependencies first (their layer is reused while only the code changes), then the project itself, not editable.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY README.md ./
COPY src ./src
RUN uv sync --frozen --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 leadflow \
    && useradd --system --uid 10001 --gid leadflow --home-dir /var/lib/leadflow --shell /usr/sbin/nologin leadflow \
    && mkdir -p /var/lib/leadflow \
    && chown leadflow:leadflow /var/lib/leadflow
# The code is owned by root and read-only for the service user; only the data directory is writable.
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEADFLOW_HOST=0.0.0.0 \
    LEADFLOW_PORT=8000 \
    LEADFLOW_DATA_DIR=/var/lib/leadflow \
    LEADFLOW_ENVIRONMENT=production
WORKDIR /var/lib/leadflow
USER leadflow:leadflow
EXPOSE 8000
STOPSIGNAL SIGTERM
# Ready means database, migrations, Redis and storage answer (GET /health/ready is 200 only then).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=2).status != 200)"]
CMD ["leadflow", "serve"]

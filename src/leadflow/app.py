"""The FastAPI factory: shared components, middleware order, routers, error handlers, lifespan."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.types import Scope

from leadflow import __version__
from leadflow.accounts.auth import AuthService
from leadflow.accounts.auth_router import router as auth_router
from leadflow.accounts.lockout import LoginGuard
from leadflow.accounts.policies import principal_from_token
from leadflow.accounts.router import router as users_router
from leadflow.accounts.service import UserService
from leadflow.administration.router import router as administration_router
from leadflow.campaigns.router import router as campaigns_router
from leadflow.cash.router import router as cash_router
from leadflow.catalog.router import router as catalog_router
from leadflow.console import routers as console_routers
from leadflow.file_owners import file_rules
from leadflow.files import service as files_service
from leadflow.files.router import router as files_router
from leadflow.observability.health import router as health_router
from leadflow.observability.router import router as metrics_router
from leadflow.platform.api import API_PREFIX
from leadflow.platform.events import close_streams_on_server_exit
from leadflow.platform.idempotency import IdempotencyMiddleware
from leadflow.platform.logging import configure_logging
from leadflow.platform.metrics import process_exited
from leadflow.platform.middleware import (
    BodyLimitMiddleware,
    CORSMiddleware,
    EdgeMiddleware,
    RateLimitMiddleware,
    bearer_or_cookie_token,
)
from leadflow.platform.problems import install_problem_handlers
from leadflow.platform.ratelimit import RateLimiter
from leadflow.platform.security import Signer
from leadflow.platform.settings import Settings, get_settings
from leadflow.privacy.router import router as privacy_router
from leadflow.recordings.router import router as recordings_router
from leadflow.reports.router import router as reports_router
from leadflow.requests.router import router as requests_router
from leadflow.runtime import build_runtime
from leadflow.tasks import warm_cache
from leadflow.telephony import registry as telephony_registry
from leadflow.telephony.router import router as telephony_router

log = structlog.get_logger("leadflow.app")
WEBHOOK_PREFIX = f"{API_PREFIX}/telephony/"
WEBHOOK_MAX_BYTES = 64 * 1024
UPLOAD_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the largest file

DESCRIPTION = """
The Leadflow API. Every error is `application/problem+json` (RFC 9457) with a stable `type`.
Browsers sign in with `POST /auth/login` (cookies; unsafe methods need the `X-CSRF-Token` header);
API clients use `POST /auth/token` and `Authorization: Bearer`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)

    runtime = build_runtime(settings)
    redis, cache, database, jobs = runtime.redis, runtime.cache, runtime.database, runtime.jobs
    signer = Signer(settings.effective_secret_key(), settings.access_token_ttl_s)
    limiter = RateLimiter(redis, settings.redis_prefix)
    guard = LoginGuard(settings, database, redis)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("startup", version=__version__, database=database.dialect, redis=redis is not None)
        # On the embedded default (no Redis, no worker) this process schedules and runs the jobs itself; the lock of
        # the job_runs table keeps each slot to one run when several processes do so. With Redis, `leadflow worker`
        # processes schedule and run them.
        stop = asyncio.Event()
        scheduler = asyncio.create_task(jobs.run_scheduler(stop)) if jobs.in_process else None
        await cache.start()
        await runtime.events.start()
        close_streams_on_server_exit(runtime.events)
        warming = asyncio.create_task(warm_cache(settings, database, cache))
        # What exists now (modules, routes, models, schemas, the pools) lives as long as the process: frozen out of
        # the collector's sight, a full collection no longer walks it. Unfrozen, that walk was a pause of 150-200 ms
        # every few thousand requests, the p99 of the writes (docs/performance.md).
        gc.collect()
        gc.freeze()
        yield
        stop.set()
        warming.cancel()
        if scheduler is not None:
            await scheduler
        await runtime.events.stop()
        await cache.stop()
        process_exited()
        await runtime.close()
        log.info("shutdown")

    app = FastAPI(
        title="Leadflow",
        version=__version__,
        description=DESCRIPTION,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url=None,
        lifespan=lifespan,
        # Metrics and logs are our own (Prometheus, structlog). FastAPI's native OpenTelemetry, left on, asks
        # OpenTelemetry for its providers on every request (an import lookup each time: a tenth of a trivial
        # request's time) only to find none configured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    # What platform.dependencies and the domains' named dependencies hand to the routes.
    app.state.settings = settings
    app.state.database = database
    app.state.redis = redis
    app.state.cache = cache
    app.state.storage = runtime.storage
    app.state.jobs = jobs
    app.state.events = runtime.events
    app.state.signer = signer
    app.state.limiter = limiter
    app.state.auth = AuthService(settings, signer, runtime.hasher, guard)
    app.state.users = UserService(runtime.hasher)
    app.state.telephony = telephony_registry.configured(settings)
    # files slice: who may read and delete which file, from the files' owners (files imports no domain).
    app.state.file_rules = file_rules(settings)
    # end files slice

    install_problem_handlers(app)

    # The routers' routes are built once, at import; every app (tests make many) mounts the same route objects.
    # A request is matched against the routes in this order, one regular expression each: the busiest come first
    # (the request list and card, the provider's webhook, the probes). No two routers' paths overlap.
    routers = (
        requests_router,
        telephony_router,
        health_router,
        auth_router,
        users_router,
        catalog_router,
        campaigns_router,
        cash_router,
        recordings_router,
        files_router,
        administration_router,
        privacy_router,
        reports_router,
        metrics_router,
        *console_routers,
    )
    for router in routers:
        app.router.routes.extend(router.routes)

    # Added innermost first: the last one added runs first.
    async def authenticate(token: str) -> int | None:
        """The user behind an access token, checked as fully as any endpoint does (for the idempotency store)."""
        async with database.session() as session:
            principal = await principal_from_token(session, signer, token)
        return principal.id if principal is not None else None

    app.add_middleware(
        IdempotencyMiddleware,
        database=database,
        authenticate=authenticate,
        ttl_s=settings.idempotency_ttl_s,
        exempt=(f"{API_PREFIX}/auth/",),
    )
    app.add_middleware(
        RateLimitMiddleware,
        limiter=limiter,
        signer=signer,
        per_minute_amount=settings.rate_limit_per_minute,
        webhook_per_minute=settings.webhook_rate_limit_per_minute,
    )

    def body_limit(path: str) -> int:
        if path.startswith(WEBHOOK_PREFIX):
            return WEBHOOK_MAX_BYTES  # a provider event is a few hundred bytes
        if path.endswith("/files"):
            return settings.upload_max_bytes + UPLOAD_OVERHEAD  # the uploads users make are documents and images
        return settings.max_request_bytes

    async def body_refused(scope: Scope) -> None:
        """An upload refused for its size before it reached its route still gets its file-access-log line."""
        if scope["method"] != "POST" or not scope["path"].endswith("/files"):
            return
        token = bearer_or_cookie_token(scope)
        user_id = await authenticate(token) if token else None
        headers = Headers(scope=scope)
        agent = headers.get("user-agent")
        async with database.session() as session:
            actor = files_service.Actor(
                user_id=user_id, ip=scope.get("state", {}).get("client_ip"), user_agent=agent[:300] if agent else None
            )
            await files_service.refuse(session, actor, None, "upload", 413)

    app.add_middleware(
        BodyLimitMiddleware,
        limit_for=body_limit,
        on_refused=body_refused,
        # An upload refused here is the same answer as one refused by its route: file-too-large.
        type_for=lambda path: "file-too-large" if path.endswith("/files") else None,
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=bool(settings.cors_origins),
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "X-CSRF-Token", "X-Request-ID", "Idempotency-Key", "If-Match"],
        expose_headers=["X-Request-ID", "ETag", "Retry-After"],
        max_age=600,
    )
    app.add_middleware(EdgeMiddleware, settings=settings)
    return app

"""The composition root: builds the ASGI app from the contexts' routers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline

from contactflow.background import CONTEXT_WORKERS, operations
from contactflow.contacts import api as contacts_api
from contactflow.contacts import records_api, resources_api
from contactflow.flows import api as flows_api
from contactflow.flows import bulk_retry_api, catalog_api
from contactflow.flows import hooks_api as flows_hooks_api
from contactflow.flows.connections import api as connections_api
from contactflow.flows.models import find_flow
from contactflow.mailsuite import api as mailsuite_api
from contactflow.mailsuite import campaign_api as mailsuite_campaign_api
from contactflow.mailsuite import mail_api as mailsuite_mail_api
from contactflow.mailsuite import sandbox_api as mailsuite_sandbox_api
from contactflow.mailsuite import tracking_api as mailsuite_tracking_api
from contactflow.mailsuite.campaigns import find_campaign
from contactflow.platform import (
    audit_api,
    crypto,
    events_api,
    issues_api,
    route_prefixes,
    tracing,
)
from contactflow.platform.api_support import paging_parameters_taken
from contactflow.platform.auth.credential_cache import CredentialCache
from contactflow.platform.auth.http import UsageRecorder
from contactflow.platform.auth.oauth import api as oauth_api
from contactflow.platform.auth.oauth import consent as oauth_consent
from contactflow.platform.db import Database
from contactflow.platform.http import EdgeMiddleware, install_error_handlers
from contactflow.platform.idempotency import IdempotencyMiddleware
from contactflow.platform.metrics import RequestMetrics
from contactflow.platform.ratelimit import RateLimiter, RateLimitHeaders, document_headers
from contactflow.platform.runtime import chosen_groups, running_workers
from contactflow.platform.security_headers import SecurityHeaders
from contactflow.platform.webhooks import api as webhooks_api
from contactflow.settings import Settings, get_settings
from contactflow.sync import api as sync_api
from contactflow.sync import conflicts_api as sync_conflicts_api
from contactflow.sync import held_api as sync_held_api
from contactflow.sync import history_api as sync_history_api
from contactflow.sync import reconciliation_api as sync_reconciliation_api
from contactflow.sync import records_api as sync_records_api
from contactflow.web import routes as dashboard

API_VERSION = "2021-07-28"
# The interactive docs: Swagger UI and ReDoc, their scripts, styles and icon served from the
# installed package under DOCS_ASSETS, so that they work without internet.
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
DOCS_ASSETS = "/docs/assets"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if settings.embedded_workers:
        chosen_groups(settings, CONTEXT_WORKERS)  # refuse unknown names before serving
    crypto.configure(settings)
    tracing.configure(settings)
    db = Database(settings.database_url)
    idempotency_window = timedelta(hours=settings.idempotency_ttl_hours)
    rate_limiter = RateLimiter.from_settings(settings)
    ops = operations(db, settings, rate_limiter)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.embedded_workers:
            async with running_workers(db, settings, CONTEXT_WORKERS) as worker:
                ops.metrics.worker = worker
                yield
        else:
            # The workers run elsewhere: their commits still wake this process's live streams.
            async with db.listening():
                yield
        await rate_limiter.close()
        await db.dispose()

    app = FastAPIOffline(
        docs_url=DOCS_URL,
        redoc_url=REDOC_URL,
        static_url=DOCS_ASSETS,
        title="contactflow",
        version=API_VERSION,
        summary="A HighLevel v2 compatible Contacts API, events, Mailsuite and flows.",
        lifespan=lifespan,
        # Swagger UI would otherwise show a badge fetched from an online validator.
        swagger_ui_parameters={"validatorUrl": None},
        dependencies=[Depends(paging_parameters_taken)],
        # FastAPI's own telemetry, on whenever a global OpenTelemetry provider is set, would
        # record raw paths and query strings (search text, email addresses) and exception
        # messages; the requests' spans are platform/tracing's (ADR 0031).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.db = db
    app.state.campaign_lookup = find_campaign
    app.state.workflow_lookup = find_flow
    app.state.usage_recorder = UsageRecorder()
    app.state.credential_cache = CredentialCache()
    app.state.rate_limiter = rate_limiter
    app.state.operations = ops
    install_error_handlers(app)
    document_headers(app)
    for router in (
        contacts_api.router,
        records_api.router,
        resources_api.router,
        events_api.router,
        webhooks_api.router,
        audit_api.router,
        issues_api.router,
        oauth_api.router,
        oauth_consent.router,
        mailsuite_api.router,
        mailsuite_mail_api.router,
        mailsuite_campaign_api.router,
        mailsuite_sandbox_api.router,
        mailsuite_tracking_api.router,
        bulk_retry_api.router,
        flows_api.router,
        connections_api.router,
        connections_api.hooks,
        catalog_api.router,
        flows_hooks_api.router,
        sync_api.router,
        sync_reconciliation_api.router,
        sync_held_api.router,
        sync_conflicts_api.router,
        sync_history_api.router,
        sync_records_api.router,
    ):
        app.include_router(router)

    dashboard.install(app)
    # Operator endpoints: no token, not in the OpenAPI (platform/health.py).
    app.router.routes.extend(ops.routes())

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse(DOCS_URL)

    @app.get("/health", tags=["Health"], summary="Liveness check (public)")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    # The last added runs first: the security headers cover every response, Edge's 413s and
    # 500s included.
    app.add_middleware(IdempotencyMiddleware, db=db, retention=idempotency_window)
    app.add_middleware(EdgeMiddleware, max_body_bytes=settings.max_body_bytes)
    # Outside Edge, so that its 500 for an authenticated request carries the counts too.
    app.add_middleware(RateLimitHeaders)
    docs = (DOCS_URL, REDOC_URL, app.swagger_ui_oauth2_redirect_url)
    app.add_middleware(
        SecurityHeaders,
        trust_proxy=settings.trust_proxy,
        docs_paths=[path for path in docs if path is not None],
    )
    # Inside the timing, outside the rest: the edge takes its trace id from the request's
    # span, and the span has every answer's status. Not added when tracing is off.
    tracing.install(app)
    # Outermost: every answer is timed, the edge's 413s and 500s included.
    app.add_middleware(RequestMetrics, histogram=ops.metrics.requests)
    route_prefixes.skip_by_prefix(app)
    return app

"""The composition root: builds the ASGI app from the contexts' routers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from contactflow.contacts import api as contacts_api
from contactflow.contacts import records_api, resources_api
from contactflow.platform import audit_api, crypto, events_api
from contactflow.platform.auth.http import UsageRecorder
from contactflow.platform.db import Database
from contactflow.platform.http import EdgeMiddleware, install_error_handlers
from contactflow.platform.idempotency import IdempotencyMiddleware, purge_expired
from contactflow.platform.runtime import running_workers
from contactflow.platform.webhooks import api as webhooks_api
from contactflow.settings import Settings, get_settings

API_VERSION = "2021-07-28"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    crypto.configure(settings)
    db = Database(settings.database_url)
    retention = timedelta(hours=settings.idempotency_ttl_hours)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await purge_expired(db, retention)
        if settings.embedded_workers:
            async with running_workers(db, settings):
                yield
        else:
            yield
        await db.dispose()

    app = FastAPI(
        title="contactflow",
        version=API_VERSION,
        summary="A HighLevel v2 compatible Contacts API, events, Mailsuite and flows.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.usage_recorder = UsageRecorder()
    install_error_handlers(app)
    for router in (
        contacts_api.router,
        records_api.router,
        resources_api.router,
        events_api.router,
        webhooks_api.router,
        audit_api.router,
    ):
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/health", tags=["Health"], summary="Liveness check (public)")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.add_middleware(IdempotencyMiddleware, db=db, retention=retention)
    app.add_middleware(EdgeMiddleware, max_body_bytes=settings.max_body_bytes)
    return app

"""The dashboard's routes, static files and error pages, added to the app under /app."""

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from contactflow.platform.auth import sessions
from contactflow.platform.errors import NotFound
from contactflow.platform.http import on_domain_error
from contactflow.web import (
    account,
    api_keys,
    audit,
    builder,
    bulk_retry,
    campaigns,
    connections,
    contact_page,
    contacts,
    emails,
    events,
    flow_page,
    flows,
    issues,
    mail_lists,
    mail_tasks,
    mail_templates,
    oauth_apps,
    outbox,
    overview,
    runs,
    senders,
    suppressions,
    sync_conflicts,
    sync_edit,
    sync_held,
    sync_reconciliations,
    sync_records,
    syncs,
    users,
    webhook_deliveries,
    webhooks,
)
from contactflow.web.guard import SAFE_METHODS, CsrfRefused, PageNotFound, SignInRequired
from contactflow.web.pages import DASHBOARD_PATH, STATIC_PATH, render


async def _sign_in_first(request: Request, _: Exception) -> Response:
    if request.method in SAFE_METHODS and "hx-request" not in request.headers:
        return sessions.sign_in_first(request)
    text = "Your session ended; sign in again."
    return render("problem.html", 403, title="Sign in first", text=text)


async def _csrf_refused(_: Request, error: Exception) -> Response:
    reason = error.reason if isinstance(error, CsrfRefused) else ""
    return render("problem.html", 403, title="Refused", text=reason)


async def _not_found(_: Request, __: Exception) -> Response:
    text = "There is nothing here, or it belongs to a location you do not see."
    return render("problem.html", 404, title="Not found", text=text)


async def _record_not_found(request: Request, exc: Exception) -> Response:
    """A record that a dashboard page or action names is missing, or is another location's:
    the dashboard's own 404 page, as for a location the viewer does not see. Elsewhere the
    API's error envelope, as before."""
    if request.url.path.startswith(DASHBOARD_PATH):
        return await _not_found(request, exc)
    return await on_domain_error(request, exc)


def install(app: FastAPI) -> None:
    for router in (
        account.router,
        overview.router,
        contacts.router,
        contact_page.router,
        api_keys.router,
        audit.router,
        builder.router,
        flows.router,
        flow_page.router,
        runs.router,
        bulk_retry.router,
        connections.router,
        oauth_apps.router,
        outbox.router,
        emails.router,
        campaigns.router,
        mail_templates.router,
        mail_tasks.router,
        mail_lists.router,
        senders.router,
        suppressions.router,
        sync_edit.router,
        sync_held.router,
        sync_conflicts.router,
        sync_records.router,
        sync_reconciliations.router,
        syncs.router,
        webhooks.router,
        webhook_deliveries.router,
        events.router,
        users.router,
        issues.router,
    ):
        app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(packages=[("contactflow.web", "static")]), name="static")
    app.add_exception_handler(SignInRequired, _sign_in_first)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    app.add_exception_handler(PageNotFound, _not_found)
    app.add_exception_handler(NotFound, _record_not_found)

"""The `contactflow` command: serve, worker, migrate and demo data, and the command groups of
the other modules (API keys and secrets: cli_access; OAuth apps and user passwords:
cli_oauth)."""

import asyncio
import json
import logging
import shlex
import signal
import socket
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as ProgressDisplay

from contactflow import (
    cli_access,
    cli_catalog,
    cli_events,
    cli_flows,
    cli_lifecycle,
    cli_mailsuite,
    cli_oauth,
    cli_sync,
)
from contactflow.background import CONTEXT_WORKERS, operations
from contactflow.cli_support import (
    console,
    stderr_console,
    with_db,
)
from contactflow.demo import DemoData, Progress, create_demo, demo_for_serve
from contactflow.platform import tracing
from contactflow.platform.db import Database
from contactflow.platform.health import serving
from contactflow.platform.logs import use_json_lines
from contactflow.platform.migrate import upgrade
from contactflow.platform.runtime import UnknownGroups, chosen_groups, running_workers
from contactflow.settings import Settings, comma_separated, get_settings

# Makes (or finds) the demo in a database, telling its progress.
DemoLoad = Callable[[Database, Progress], Awaitable[DemoData]]
# uvicorn's exit status for a server that could not start (its port taken, its app failing).
STARTUP_FAILURE = 3
app = typer.Typer(help="contactflow: CRM contacts and email integration hub.", no_args_is_help=True)
app.add_typer(cli_access.keys_app, name="keys")
app.add_typer(cli_events.events_app, name="events")
app.add_typer(cli_events.webhooks_app, name="webhooks")
app.add_typer(cli_access.secrets_app, name="secrets")
app.add_typer(cli_oauth.oauth_app, name="oauth")
app.add_typer(cli_oauth.users_app, name="users")
app.add_typer(cli_mailsuite.mailsuite_app, name="mailsuite")
app.add_typer(cli_flows.flows_app, name="flows")
app.add_typer(cli_sync.sync_app, name="sync")
app.command("catalog")(cli_catalog.catalog)
app.command("audit")(cli_access.audit_log)
app.command("purge")(cli_lifecycle.purge_command)
app.command("backup")(cli_lifecycle.backup_command)
app.command("restore")(cli_lifecycle.restore_command)


def _announcer(settings: Settings) -> Callable[[str], None]:
    """How a long-running command says what it does: a console line, or with JSON logs a log
    line like every other (and JSON logs from here on)."""
    if settings.log_format == "json":
        use_json_lines()
        return logging.getLogger("contactflow.cli").info
    return lambda message: console.print(message, soft_wrap=True)


def _start_tracing(settings: Settings) -> None:
    """Tracing as the OTEL_ variables configure it, or the command refused saying why."""
    try:
        tracing.configure(settings)
    except tracing.TracingUnavailable as error:
        raise typer.BadParameter(str(error), param_hint="OTEL_EXPORTER_OTLP_ENDPOINT") from error


def _chosen_groups(settings: Settings, named_by: str) -> list[str]:
    """The worker groups the settings name, or the command refused naming the valid ones."""
    try:
        return chosen_groups(settings, CONTEXT_WORKERS)
    except UnknownGroups as error:
        raise typer.BadParameter(str(error), param_hint=named_by) from error


@app.command()
def migrate() -> None:
    """Apply every pending schema migration."""
    upgrade(get_settings().database_url)
    console.print("database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    demo: Annotated[bool, typer.Option(help="Load demo data and print keys to try it.")] = False,
    tls_cert: Annotated[
        Path | None, typer.Option(help="PEM certificate (chain): serve HTTPS with it.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key of --tls-cert.")] = None,
) -> None:
    """Run the API (migrations are applied first)."""
    if (tls_cert is None) != (tls_key is None):
        raise typer.BadParameter("--tls-cert and --tls-key go together")
    settings = get_settings()
    if settings.embedded_workers:
        _chosen_groups(settings, "CONTACTFLOW_WORKER_GROUPS")
    _start_tracing(settings)
    base_url = f"{'https' if tls_cert else 'http'}://{host}:{port}"
    settings = settings.model_copy(update={"base_url": base_url})
    region = settings.default_phone_region
    loaded = _migrate_and_load(
        settings.database_url,
        (lambda db, progress: demo_for_serve(db, region=region, progress=progress))
        if demo
        else None,
    )
    if loaded is not None:
        _print_demo(loaded, base_url)
    say = _announcer(settings)

    def announce() -> None:
        # Each URL whole on its line, however narrow the terminal: they are copied or clicked.
        say(f"contactflow is serving on {base_url}")
        say(f"  API docs: {base_url}/docs")

    # With JSON logs uvicorn's loggers write through the root's JSON lines, and its access
    # log (raw paths, query strings, client addresses) is off: /metrics counts requests.
    json_logs = settings.log_format == "json"
    # Only an API process builds the routes: other commands start without their cost.
    from contactflow.app import create_app

    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level="info",
        log_config=None if json_logs else uvicorn.config.LOGGING_CONFIG,
        access_log=not json_logs,
        ssl_certfile=tls_cert,
        ssl_keyfile=tls_key,
        # trust_proxy is the one switch: the app reads X-Forwarded-For and -Proto itself, and
        # uvicorn's own rewriting (on by default for 127.0.0.1) would believe them without it.
        proxy_headers=False,
        # On SIGTERM: stop accepting, let the requests in flight finish for this long.
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    server = _AnnouncedServer(config, announce)
    server.run()
    if not server.started:
        raise typer.Exit(STARTUP_FAILURE)


class _AnnouncedServer(uvicorn.Server):
    """Says where it serves once it does, with its signal handlers in place: a URL said
    before could be opened, or the process interrupted, while the app was still starting."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None]) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._announce()


@app.command()
def worker(
    only: Annotated[
        str | None,
        typer.Option(
            help="Run only these groups of loops, comma-separated: webhooks, flows, mail, "
            "sync, retention (default: CONTACTFLOW_WORKER_GROUPS, else all)."
        ),
    ] = None,
    health_port: Annotated[
        int | None, typer.Option(help="Serve /livez, /readyz and /metrics on this port.")
    ] = None,
    health_host: Annotated[str, typer.Option(help="Interface of --health-port.")] = "127.0.0.1",
) -> None:
    """Run the background workers (webhooks, flows, Mailsuite's mail, syncs, retention) until
    SIGINT or SIGTERM.

    Any number may run, on any machine that reaches the database; run the API with
    CONTACTFLOW_EMBEDDED_WORKERS=false when workers run on their own.
    """
    settings = get_settings()
    if only is not None:
        settings = settings.model_copy(update={"worker_groups": comma_separated(only)})
    groups = _chosen_groups(settings, "--only" if only is not None else "CONTACTFLOW_WORKER_GROUPS")
    say = _announcer(settings)

    _start_tracing(settings)

    async def work(db: Database) -> None:
        ops = operations(db, settings)
        async with AsyncExitStack() as stack:
            running = await stack.enter_async_context(
                running_workers(db, settings, CONTEXT_WORKERS)
            )
            ops.metrics.worker = running
            if health_port is not None:
                await stack.enter_async_context(serving(ops.app(), health_host, health_port))
                say(f"health on http://{health_host}:{health_port}/readyz")
            loop = asyncio.get_running_loop()
            stopped = asyncio.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stopped.set)
            say(f"worker {running.name} ({', '.join(groups)}) started")
            await stopped.wait()
            say(f"worker {running.name} stopping")

    with_db(work)


@app.command("demo")
def demo_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Create a demo company, two locations and ~200 contacts; print a key per location."""
    settings = get_settings()
    region = settings.default_phone_region
    data = _migrate_and_load(
        settings.database_url,
        lambda db, progress: create_demo(db, region=region, progress=progress),
    )
    assert data is not None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "locations": [
                        {"id": item.id, "name": item.name, "apiKey": item.api_key}
                        for item in data.locations
                    ],
                    "baseUrl": settings.base_url,
                    "campaignId": data.campaign_id,
                    "workflowId": data.workflow_id,
                    "admin": {
                        "email": data.admin.email,
                        "password": data.admin.password,
                        "companyId": data.admin.company_id,
                    },
                }
            )
        )
        return
    _print_demo(data, settings.base_url)


def _migrate_and_load(database_url: str, load: DemoLoad | None) -> DemoData | None:
    """Apply the migrations, then load the demo with `load` when given, showing progress on
    stderr: a first demo takes tens of seconds, which must not look like a hang."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=20),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with ProgressDisplay(*columns, console=stderr_console) as shown:
        migrations = shown.add_task("migrations", total=None)
        upgrade(database_url)
        shown.update(migrations, total=1, completed=1)
        if load is None:
            return None
        contacts = shown.add_task("demo contacts", total=None)

        def progress(made: int, total: int) -> None:
            shown.update(contacts, completed=made, total=total)

        data = with_db(lambda db: load(db, progress))
        if shown.tasks[contacts].total is None:  # the demo was there: only new keys
            shown.update(contacts, total=1, completed=1)
        return data


def _print_demo(data: DemoData, base_url: str) -> None:
    for item in data.locations:
        console.print(f"[bold]{item.name}[/bold]  location {item.id}", soft_wrap=True)
        console.print(f"  API key: {item.api_key}", soft_wrap=True)
        curl = (
            f"curl -s {shlex.quote(base_url + '/contacts/?limit=5')} "
            f"-H {shlex.quote('Authorization: Bearer ' + item.api_key)} -H 'Version: 2021-07-28'"
        )
        console.print(f"  try: {curl}", soft_wrap=True)
        console.print(
            f"  sandbox outbox (the mail it sends): {base_url}/mailsuite/v1/sandbox/messages"
            f" or `contactflow mailsuite outbox --location {item.id}`",
            soft_wrap=True,
        )
    admin = data.admin
    console.print(
        f"[bold]Dashboard[/bold]  {base_url}/app/login  {admin.email}  password {admin.password}",
        soft_wrap=True,
    )
    console.print(
        f"[bold]OAuth sign-in[/bold]  {admin.email}  password {admin.password}", soft_wrap=True
    )
    console.print(
        "  register an app with `contactflow oauth apps create --company "
        f"{admin.company_id} ...`; docs/security.md walks through the authorization dance",
        soft_wrap=True,
    )

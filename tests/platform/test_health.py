"""The operator endpoints of an API process: /livez answers, /readyz is 200 on a current
database and 503 naming the reason otherwise (migrations behind the code, a worker loop that
stopped coming round), /metrics counts requests by route template and reads the database."""

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from contactflow.background import operations
from contactflow.platform.db import Database
from contactflow.platform.jobs import Loop, Worker
from contactflow.platform.migrate import head_revisions
from contactflow.settings import Settings
from tests.receiver import Receiver
from tests.support import (
    LiveServer,
    Tenant,
    api_client,
    live_server,
    migrated_database,
    server_settings,
)
from tests.webhooks.helpers import add_endpoint, create_contact, poll

WITHIN = 10.0
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(exposition: str) -> Samples:
    """Every sample of a text exposition by (name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def requests_of(found: Samples, route: str, status: str) -> float:
    labels = (("method", "GET"), ("route", route), ("status", status))
    return found.get(("contactflow_http_request_duration_seconds_count", labels), 0.0)


async def scrape(base_url: str) -> Samples:
    async with api_client(base_url, {}) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


async def test_livez_and_readyz_answer_without_a_token(server: LiveServer) -> None:
    async with api_client(server.base_url, {}) as http:
        live = await http.get("/livez")
        ready = await http.get("/readyz")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})


async def test_metrics_count_requests_by_route_template_and_read_the_database(
    server: LiveServer, client: httpx.AsyncClient, tenant: Tenant, receiver: Receiver
) -> None:
    # An endpoint to fan the contact's event out to: the fan-out's cursor and lag follow.
    await add_endpoint(client, receiver.url("/counted"))
    contact_id = (await create_contact(client, firstName="Counted"))["id"]
    template = "/contacts/{contactId}"
    before = await scrape(server.base_url)
    for _ in range(3):
        assert (await client.get(f"/contacts/{contact_id}")).status_code == 200
    assert (await client.get("/contacts/nosuchcontactatall")).status_code in (400, 404)
    assert (await client.get(f"/no/such/{contact_id}")).status_code == 404
    assert (await client.request("PURGE", f"/contacts/{contact_id}")).status_code == 405
    async with api_client(server.base_url, {}) as http:
        exposition = (await http.get("/metrics")).text
    after = samples(exposition)

    assert requests_of(after, template, "200") - requests_of(before, template, "200") == 3
    assert requests_of(after, "(unmatched)", "404") > requests_of(before, "(unmatched)", "404")
    assert contact_id not in exposition  # templates, never raw paths
    assert 'method="other",route="/contacts/{contactId}",status="405"' in exposition
    assert after[("contactflow_database_up", ())] == 1
    for kind in ("webhook_delivery", "flow_run", "email"):
        assert ("contactflow_work_items_due", (("kind", kind),)) in after
        assert ("contactflow_work_items_leased", (("kind", kind),)) in after
    webhooks_lag = ("contactflow_event_consumer_lag_events", (("consumer", "webhooks"),))
    assert webhooks_lag in await poll(
        lambda: scrape(server.base_url), lambda found: webhooks_lag in found
    )
    assert ("contactflow_rate_limit_refusals_total", (("limit", "burst"),)) in after
    assert after[("contactflow_db_pool_size", ())] > 0
    beats = [key for key in after if key[0] == "contactflow_worker_loop_heartbeat_age_seconds"]
    assert {"fan-out", "flows-runs", "mailsuite-send-0", "sync-changes"} <= {
        dict(labels)["loop"] for _, labels in beats
    }


@pytest.fixture
def own_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A migrated database of the session's backend for this test alone."""
    with migrated_database(database_url, tmp_path) as url:
        yield url


async def test_metrics_count_outcomes_and_rate_limit_refusals(
    server: LiveServer, client: httpx.AsyncClient, receiver: Receiver, database_url: str
) -> None:
    delivered = (
        "contactflow_work_outcomes_total",
        (("kind", "webhook_attempt"), ("outcome", "succeeded")),
    )
    before = await scrape(server.base_url)
    await add_endpoint(client, receiver.url("/outcomes"))
    await create_contact(client, firstName="Delivered")
    await poll(
        lambda: scrape(server.base_url),
        lambda found: found[delivered] > before[delivered],
        within=60,
    )

    refused = ("contactflow_rate_limit_refusals_total", (("limit", "burst"),))
    limited = server_settings(database_url, rate_limit_burst=1, embedded_workers=False)
    with live_server(limited) as small:
        async with api_client(small.base_url, client.headers) as http:
            statuses = [(await http.get("/contacts/")).status_code for _ in range(3)]
        assert statuses.count(429) == 2, statuses
        assert (await scrape(small.base_url))[refused] == 2


async def test_readyz_is_503_while_the_database_is_behind_the_code(own_url: str) -> None:
    settings = server_settings(own_url, embedded_workers=False)
    db = Database(own_url)
    try:
        with live_server(settings) as server:
            async with api_client(server.base_url, {}) as http:
                assert (await http.get("/readyz")).status_code == 200
                async with db.unit_of_work() as uow:
                    await uow.session.execute(
                        text("UPDATE alembic_version SET version_num = '0001'")
                    )
                behind = await http.get("/readyz")
                assert behind.status_code == 503
                reason = behind.json()["reason"]
                assert "database at migration 0001" in reason, reason
                assert all(head in reason for head in head_revisions())
                assert (await http.get("/livez")).status_code == 200
                async with db.unit_of_work() as uow:
                    await uow.session.execute(text("DROP TABLE alembic_version"))
                unmigrated = await http.get("/readyz")
                assert unmigrated.status_code == 503
                assert "not migrated" in unmigrated.json()["reason"]
    finally:
        await db.dispose()


async def test_readyz_is_503_while_a_worker_loop_is_stuck(database_url: str) -> None:
    """A loop stuck in its step stops beating: the process is not ready until it comes
    round again."""
    settings = Settings(database_url=database_url, worker_stale_seconds=0.3)
    db = Database(database_url)
    ops = operations(db, settings)
    release = asyncio.Event()

    async def stuck() -> bool:
        await release.wait()
        return False

    worker = Worker(db, poll_seconds=0.05)
    ops.metrics.worker = worker
    running = asyncio.create_task(worker.run({"stuck": Loop(stuck), "idle": Loop(idle)}))
    try:
        with live_server(settings, ops.app()) as server:
            async with api_client(server.base_url, {}) as http:
                refused = await poll_readyz(http, 503)
                assert refused["reason"] == ("worker loops not heartbeating for 0.3 s: stuck"), (
                    refused
                )
                release.set()
                await poll_readyz(http, 200)
                found = await scrape(server.base_url)
                labels = (("loop", "idle"),)
                assert found[("contactflow_worker_loop_heartbeat_age_seconds", labels)] < 5
    finally:
        worker.stop()
        release.set()
        await running
        await db.dispose()


async def idle() -> bool:
    return False


async def poll_readyz(http: httpx.AsyncClient, status: int) -> dict[str, str]:
    """/readyz's body once it answers `status`, within WITHIN seconds."""
    response = await poll(lambda: http.get("/readyz"), lambda got: got.status_code == status)
    body: dict[str, str] = response.json()
    return body


async def test_operator_endpoints_stay_out_of_the_openapi(server: LiveServer) -> None:
    async with api_client(server.base_url, {}) as http:
        paths = (await http.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if re.fullmatch(r"/(livez|readyz|metrics)", path)]

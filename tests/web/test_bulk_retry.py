"""Bulk retry of the failed runs matching the runs list's filter: started from the runs page
or the API, advanced in batches by the workers, each run retried once; refused for a filter
whose job runs already; another location's job is a 404; forms need their CSRF token."""

from collections.abc import Iterator

import pytest

from contactflow.flows import bulk_retry
from contactflow.flows.run_search import RunFilter
from contactflow.platform.db import Database
from contactflow.platform.errors import Conflict
from tests.flows.helpers import Hub, Json
from tests.mailsuite.helpers import poll
from tests.receiver import Receiver, running_receiver
from tests.support import LiveServer, Tenant, api_client, make_tenant
from tests.web.helpers import browser, make_person, signed_in

WAIT = 60.0
# More than one batch: a run of the first batch that fails again must not be taken again.
RUNS = bulk_retry.BATCH + 5


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def calling(url: str) -> Json:
    """Run by hand with {"n": ...}: one POST to `url`/n, failing the run on an error status."""
    step = {
        "type": "action",
        "id": "call",
        "action": "core.http.request",
        "input": {"method": "POST", "url": url + "/{{ trigger.n }}"},
    }
    return {"trigger": {"key": "core.manual"}, "steps": [step]}


async def failed_runs(hub: Hub, flow_id: str, count: int) -> None:
    for n in range(count):
        await hub.post(f"/flows/{flow_id}/run", {"n": n})

    async def failed() -> int:
        listed = await hub.get(f"/flows/{flow_id}/runs", limit=100)
        return sum(run["state"] == "failed" for run in listed["runs"])

    await poll(failed, lambda found: found == count, within=WAIT)


async def test_each_failed_run_is_retried_once_in_batches(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub, receiver: Receiver
) -> None:
    receiver.fail_next(*[500] * (RUNS * 3))
    flow = await web_hub.flow(calling(receiver.url("/n")), name="Calls")
    await failed_runs(web_hub, flow["id"], RUNS)
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}"
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        runs = await http.get(f"{ours}/runs", params={"flow": flow["id"]})
        assert "Retry every failed run matching these filters" in runs.text
        started = await http.post(
            f"{ours}/bulk-retries", data={"csrf_token": token, "flow": flow["id"]}
        )
        assert started.status_code == 303, started.text
        page_url = started.headers["location"]
        job_id = page_url.rsplit("/", 1)[1]

        async def job() -> Json:
            found: Json = (await web_hub.get(f"/flows/runs/bulk-retry/{job_id}"))["bulkRetry"]
            return found

        done = await poll(job, lambda found: found["state"] == "finished", within=WAIT)
        assert (done["total"], done["retried"], done["flowId"]) == (RUNS, RUNS, flow["id"])
        page = await http.get(page_url)
        assert page.status_code == 200
        assert f"Retried {RUNS} of {RUNS}" in page.text
        assert 'value="100"' in page.text
        assert "hx-trigger" not in page.text  # a finished job is not polled
        progress = await http.get(f"{page_url}/progress")
        assert 'data-state="finished"' in progress.text
    listed = await poll(
        lambda: web_hub.runs(flow["id"]),
        lambda runs: all(run["state"] == "failed" for run in runs),
        within=WAIT,
    )
    # The executor took each run twice: when it first failed, and once retried.
    assert [run["attempts"] for run in listed] == [2] * RUNS, [
        (run["input"], run["error"]) for run in listed if run["attempts"] != 2
    ]


async def test_one_job_per_filter_runs_and_a_cancelled_one_frees_it(web_db: Database) -> None:
    tenant = await make_tenant(web_db)
    found = RunFilter(text="ada")
    async with web_db.unit_of_work() as uow:
        first = await bulk_retry.start(uow, tenant.location_id, found)
        with pytest.raises(Conflict) as refused:
            await bulk_retry.start(uow, tenant.location_id, RunFilter(state="failed", text="ada"))
        assert refused.value.meta == {"bulkRetryId": first.id}
        other = await bulk_retry.start(uow, tenant.location_id, RunFilter(text="bob"))
        cancelled = await bulk_retry.cancel(uow, tenant.location_id, first.id)
        assert (cancelled.state, cancelled.running_key) == ("cancelled", None)
        again = await bulk_retry.start(uow, tenant.location_id, found)
        assert again.id not in (first.id, other.id)


async def test_bad_filters_tenancy_and_csrf(
    web_server: LiveServer, web_db: Database, web_tenant: Tenant, web_hub: Hub
) -> None:
    person = await make_person(web_db, web_tenant.location_id)
    ours = f"/app/l/{web_tenant.location_id}"
    stranger = await make_tenant(web_db)
    async with web_db.unit_of_work() as uow:
        theirs = await bulk_retry.start(uow, stranger.location_id, RunFilter())
    async with browser(web_server.base_url) as http:
        token = await signed_in(http, person)
        bad = await http.post(
            f"{ours}/bulk-retries", data={"csrf_token": token, "since": "yesterday"}
        )
        assert bad.status_code == 422
        assert "since: a date and time" in bad.text
        unknown = await http.post(f"{ours}/bulk-retries", data={"csrf_token": token, "flow": "x"})
        assert unknown.status_code == 422
        assert "flowId: no such flow in this location" in unknown.text
        for path in (
            f"{ours}/bulk-retries/{theirs.id}",
            f"{ours}/bulk-retries/{theirs.id}/progress",
        ):
            assert (await http.get(path)).status_code == 404
        cancel = f"{ours}/bulk-retries/{theirs.id}/cancel"
        assert (await http.post(cancel, data={"csrf_token": token})).status_code == 404
        assert (await http.post(f"{ours}/bulk-retries", data={})).status_code == 403
        assert (await http.post(cancel, data={})).status_code == 403
    # The API: another location's job is not found; a bad field is named.
    await web_hub.call("GET", f"/flows/runs/bulk-retry/{theirs.id}", 404)
    await web_hub.call("DELETE", f"/flows/runs/bulk-retry/{theirs.id}", 404)
    refused = await web_hub.call("POST", "/flows/runs/bulk-retry", 422, json={"flowId": "nope"})
    assert refused["message"] == ["flowId: no such flow in this location"]
    async with api_client(web_server.base_url, stranger.headers) as other:
        mine = await other.get(f"/flows/runs/bulk-retry/{theirs.id}")
        assert mine.status_code == 200
        assert mine.json()["bulkRetry"]["state"] in ("running", "finished")

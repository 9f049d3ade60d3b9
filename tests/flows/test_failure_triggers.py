"""Flows that tell the team of failures and fail themselves never chain without end: an issue
opens once however often its subject fails again, so flows on `core.issue.opened` that fail
open one issue each and then only count; flows on `core.flow.run_failed` (and error flows)
are not told of each other's failures."""

from tests.flows.helpers import Hub, Json, failing_flow
from tests.webhooks.helpers import poll


async def _settled(hub: Hub, expected: dict[str, int]) -> dict[str, list[Json]]:
    """Each flow's runs once it has at least its expected number, all finished."""
    return {flow_id: await hub.finished_runs(flow_id, count) for flow_id, count in expected.items()}


async def _events(hub: Hub, event_type: str, count: int) -> list[Json]:
    async def fetch() -> list[Json]:
        events: list[Json] = (await hub.get("/events", types=event_type, limit=100))["events"]
        return events

    return await poll(fetch, lambda events: len(events) >= count)


async def test_flows_told_of_issues_that_fail_open_one_issue_each_then_only_count(
    hub: Hub,
) -> None:
    source = await hub.flow(failing_flow("core.manual"), name="Source")
    # One notifier ignores its own issue (the default), the other hears of it too.
    quiet = await hub.flow(failing_flow("core.issue.opened"), name="Quiet")
    eager = await hub.flow(failing_flow("core.issue.opened", ignoreEventsFrom="none"), name="Eager")
    await hub.post(f"/flows/{source['id']}/run", {})

    # The source's issue runs both; each fails and opens its own issue once, which runs the
    # other (and the eager one again): 2 + 3 runs, 3 issues, then quiet.
    await _settled(hub, {quiet["id"]: 2, eager["id"]: 3})
    assert len(await _events(hub, "IssueOpened", 3)) == 3

    # One more issue elsewhere: one run each, and their issues only count it.
    second = await hub.flow(failing_flow("core.manual"), name="Second source")
    await hub.post(f"/flows/{second['id']}/run", {})
    runs = await _settled(hub, {quiet["id"]: 3, eager["id"]: 4})
    assert {flow_id: len(found) for flow_id, found in runs.items()} == {
        quiet["id"]: 3,
        eager["id"]: 4,
    }
    assert len(await _events(hub, "IssueOpened", 4)) == 4
    issues = {row["flowId"]: row for row in (await hub.get("/issues"))["issues"]}
    assert (issues[quiet["id"]]["status"], issues[quiet["id"]]["count"]) == ("open", 3)
    assert (issues[eager["id"]]["status"], issues[eager["id"]]["count"]) == ("open", 4)
    told = {run["input"]["issueId"] for run in runs[quiet["id"]]}
    assert told == {issues[flow_id]["id"] for flow_id in (source["id"], eager["id"], second["id"])}


async def test_flows_told_of_failed_runs_are_not_told_of_each_others_failures(hub: Hub) -> None:
    source = await hub.flow(failing_flow("core.manual"), name="Source")
    first = await hub.flow(failing_flow("core.flow.run_failed", then="errorFlow"), name="First")
    other = await hub.flow(failing_flow("core.flow.run_failed"), name="Other")
    # The first notifier's error flow fails too.
    error_flow = await hub.flow(failing_flow("core.error"), name="Error flow")
    await hub.call("PUT", f"/flows/{first['id']}", 200, json={"errorFlowId": error_flow["id"]})
    watching = {first["id"]: 1, other["id"]: 1, error_flow["id"]: 1}

    for count in (1, 2):
        await hub.post(f"/flows/{source['id']}/run", {})
        [failed, *_] = await hub.finished_runs(source["id"], count)
        runs = await _settled(hub, {flow_id: count for flow_id in watching})
        # Four failures a round: the source's, both notifiers', the error flow's.
        assert len(await _events(hub, "FlowRunFailed", 4 * count)) == 4 * count
        assert {flow_id: len(found) for flow_id, found in runs.items()} == {
            flow_id: count for flow_id in watching
        }

    [told] = [run for run in runs[other["id"]] if run["input"]["runId"] == failed["id"]]
    assert told["state"] == "failed"
    assert told["input"]["flowId"] == source["id"]
    assert told["input"]["trigger"] == "core.manual"
    assert told["input"]["stepId"] == "note"
    assert told["input"]["error"] == failed["error"]

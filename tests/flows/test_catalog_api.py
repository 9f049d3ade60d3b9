"""The catalog served: GET /catalog (filters, text search) and /catalog/{key} for any
authenticated caller, `contactflow catalog`, and docs/catalog.md kept in step with the data."""

import json
from pathlib import Path

import httpx

from contactflow.flows.catalog import CATALOG
from contactflow.flows.catalog.docs import REGENERATE, markdown
from tests.flows.catalog_world import problems
from tests.flows.helpers import Hub
from tests.support import CLIENT_TIMEOUT_SECONDS, invoke_cli

DOCS = Path(__file__).resolve().parents[2] / "docs" / "catalog.md"


def test_every_sample_matches_its_output_schema() -> None:
    for key, entry in CATALOG.items():
        assert not problems(entry.output, entry.sample), (key, problems(entry.output, entry.sample))


def test_the_committed_catalog_docs_are_up_to_date() -> None:
    assert DOCS.read_text() == markdown(), f"docs/catalog.md is stale; run `{REGENERATE}`"


async def test_list_filter_search_and_get(hub: Hub) -> None:
    everything = await hub.get("/catalog")
    assert everything["count"] == len(CATALOG) == len(everything["entries"])
    assert [entry["key"] for entry in everything["entries"]] == sorted(CATALOG)

    triggers = await hub.get("/catalog", app="mailsuite", kind="trigger")
    assert triggers["count"] == 15
    assert {entry["app"] for entry in triggers["entries"]} == {"mailsuite"}
    assert {entry["kind"] for entry in triggers["entries"]} == {"trigger"}

    core_triggers = await hub.get("/catalog", app="core", kind="trigger")
    assert [entry["key"] for entry in core_triggers["entries"]] == [
        "core.error",
        "core.flow.run_failed",
        "core.issue.opened",
        "core.issue.resolved",
        "core.manual",
        "core.schedule",
        "core.sync.conflict",
        "core.sync.drift_found",
        "core.sync.failed",
        "core.sync.reconciliation_finished",
        "core.webhook",
    ]
    assert core_triggers["count"] == 11

    found = await hub.get("/catalog", q="first TIME")
    assert {entry["key"] for entry in found["entries"]} == {
        "mailsuite.email.first_opened",
        "mailsuite.link.first_clicked",
    }

    entry = await hub.get("/catalog/contacts.contact.tag_added")
    assert entry["eventType"] == "ContactTagUpdate"
    assert entry["input"]["properties"]["tag"]["type"] == "string"
    assert entry == CATALOG["contacts.contact.tag_added"].describe()

    missing = await hub.http.get("/catalog/contacts.nothing")
    assert missing.status_code == 404
    assert "contacts.nothing" in missing.json()["message"]
    wrong_kind = await hub.http.get("/catalog", params={"kind": "trick"})
    assert wrong_kind.status_code == 422
    assert "kind" in wrong_kind.text


async def test_reading_the_catalog_needs_a_valid_token_and_no_scope(hub: Hub) -> None:
    anonymous = await hub.http.get("/catalog", headers={"Authorization": ""})
    assert anonymous.status_code == 401
    async with httpx.AsyncClient(
        timeout=CLIENT_TIMEOUT_SECONDS, base_url=str(hub.http.base_url)
    ) as other:
        forged = await other.get("/catalog", headers={"Authorization": "Bearer cf_live_nope"})
        assert forged.status_code == 401


async def test_the_cli_lists_as_table_json_and_markdown(flows_database_url: str) -> None:
    table = await invoke_cli(flows_database_url, "catalog", "--app", "contacts", "--kind", "action")
    assert table.exit_code == 0, table.output
    assert "contacts.task.create" in table.output
    assert "mailsuite." not in table.output
    listed = await invoke_cli(flows_database_url, "catalog", "--kind", "trigger", "--json")
    keys = [entry["key"] for entry in json.loads(listed.output)]
    assert keys == sorted(key for key, entry in CATALOG.items() if entry.kind == "trigger")
    found = await invoke_cli(flows_database_url, "catalog", "--query", "first TIME", "--json")
    assert [entry["key"] for entry in json.loads(found.output)] == [
        "mailsuite.email.first_opened",
        "mailsuite.link.first_clicked",
    ]
    docs = await invoke_cli(flows_database_url, "catalog", "--markdown")
    assert docs.output == markdown()
    refused = await invoke_cli(flows_database_url, "catalog", "--kind", "nope")
    assert refused.exit_code != 0

"""`contactflow flows import|export|runs|replay|templates|install` against the flows database,
run in this process (a process of its own costs seconds of start-up; tests/platform runs the
command as a process)."""

import json
from pathlib import Path

from tests.flows.helpers import Hub, welcome_flow
from tests.support import cli_output, invoke_cli

YAML = """
trigger: {key: contacts.contact.created}
steps:
  - type: action
    id: task
    action: mailsuite.task.create
    input: {title: "Call {{ trigger.firstName }}"}
"""


async def test_import_run_export_and_replay(
    hub: Hub, flows_database_url: str, tmp_path: Path
) -> None:
    location = hub.tenant.location_id
    source = tmp_path / "calls.yaml"
    source.write_text(YAML)
    flow_id = await cli_output(
        flows_database_url, "flows", "import", str(source), "--location", location, "--enable"
    )
    flow = (await hub.get(f"/flows/{flow_id}"))["flow"]
    assert flow["name"] == "calls"
    assert flow["enabled"] is True
    assert flow["published"]["number"] == 1

    await hub.crm_contact(firstName="Cli", email="cli@example.com")
    (run,) = await hub.finished_runs(flow_id)

    replayed = await cli_output(
        flows_database_url, "flows", "replay", run["id"], "--location", location
    )
    runs = await hub.finished_runs(flow_id, count=2)
    assert {row["id"] for row in runs} == {run["id"], replayed}

    export = ("flows", "export", flow_id, "--location", location)
    exported = await cli_output(flows_database_url, *export)
    as_json = await cli_output(flows_database_url, *export, "--format", "json")
    listed = await cli_output(flows_database_url, "flows", "runs", flow_id, "--location", location)
    assert "action: mailsuite.task.create" in exported
    assert "Call {{ trigger.firstName }}" in exported
    assert '"key": "contacts.contact.created"' in as_json
    assert run["id"] in listed
    assert replayed in listed
    assert [task["title"] for task in await hub.mail_tasks()] == ["Call Cli", "Call Cli"]


async def test_a_flow_that_cannot_run_is_not_imported(
    hub: Hub, flows_database_url: str, tmp_path: Path
) -> None:
    source = tmp_path / "welcome.json"
    broken = welcome_flow("no-such-sender")
    del broken["steps"][0]["input"]["email"]
    source.write_text(json.dumps(broken))
    location = hub.tenant.location_id

    refused = await invoke_cli(
        flows_database_url, "flows", "import", str(source), "--location", location, "--publish"
    )
    assert refused.exit_code == 1
    assert "steps.contact.input.email: required by mailsuite.contact.upsert" in refused.output
    assert (await hub.get("/flows"))["flows"] == []


async def test_templates_are_listed_and_installed_with_parameters(
    hub: Hub, flows_database_url: str
) -> None:
    location = hub.tenant.location_id
    sender = await hub.mail_sender("127.0.0.1", 2525)
    install = ("flows", "install", "welcome", "--location", location)
    listed = await cli_output(flows_database_url, "flows", "templates")
    installed = await cli_output(
        flows_database_url,
        *install,
        "--param",
        f"senderId={sender['id']}",
        "--param",
        "dueInDays=3",
    )
    refused = await invoke_cli(flows_database_url, *install, "--param", "senderId=sd_missing")
    assert "welcome" in listed
    assert "senderId* (string)" in listed
    assert "notes-timeline" in listed

    flow_id, name = installed.split("\t")
    assert name == "Welcome new contacts"
    flow = (await hub.get(f"/flows/{flow_id}"))["flow"]
    assert flow["enabled"] is True
    task = flow["published"]["definition"]["steps"][2]
    assert task["input"]["dueAt"] == "{{ trigger.dateAdded | add(days=3) }}"

    assert refused.exit_code == 1
    assert "parameters.senderId: no such Mailsuite sender" in refused.output
    assert [row["id"] for row in (await hub.get("/flows"))["flows"]] == [flow_id]

    # Installed already: refused naming the flow, unless --replace, which updates it.
    given = ("--param", f"senderId={sender['id']}", "--param", "dueInDays=5")
    twice = await invoke_cli(flows_database_url, *install, *given)
    assert twice.exit_code == 1
    assert f"already installed in this location: Welcome new contacts ({flow_id})" in " ".join(
        twice.output.split()
    )
    replaced = await invoke_cli(flows_database_url, *install, *given, "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert replaced.output.strip().split("\t") == [flow_id, "Welcome new contacts"]
    flow = (await hub.get(f"/flows/{flow_id}"))["flow"]
    task = flow["published"]["definition"]["steps"][2]
    assert task["input"]["dueAt"] == "{{ trigger.dateAdded | add(days=5) }}"
    assert [row["id"] for row in (await hub.get("/flows"))["flows"]] == [flow_id]

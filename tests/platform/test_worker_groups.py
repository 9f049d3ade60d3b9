"""`contactflow worker --only GROUPS` runs those groups' loops alone and, with --health-port,
serves /livez, /readyz and /metrics; an unknown group is refused naming the valid ones; the
same choice is a setting (CONTACTFLOW_WORKER_GROUPS) for any worker, embedded ones too. With
CONTACTFLOW_LOG_FORMAT=json every line it logs is one JSON object."""

import asyncio
import json
import re
from pathlib import Path

import pytest

from contactflow.app import create_app
from contactflow.background import CONTEXT_WORKERS
from contactflow.platform.db import Database
from contactflow.platform.runtime import running_workers
from contactflow.settings import Settings
from tests.platform.test_health import poll_readyz, scrape
from tests.support import api_client, free_port, invoke_cli, wait_until_serving
from tests.webhooks.helpers import worker_processes

STARTUP_SECONDS = 120.0


async def test_worker_only_runs_the_chosen_groups_and_serves_health(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with worker_processes(database_url, tmp_path) as start:
        worker = start("--only", "flows,sync", "--health-port", str(port), log_format="json")
        await worker.started(STARTUP_SECONDS)
        await wait_until_serving(base_url, STARTUP_SECONDS)
        async with api_client(base_url, {}) as http:
            assert (await http.get("/livez")).json() == {"status": "ok"}
            await poll_readyz(http, 200)
        found = await scrape(base_url)
        loops = {
            dict(labels)["loop"]
            for name, labels in found
            if name == "contactflow_worker_loop_heartbeat_age_seconds"
        }
        assert loops == {
            "flows-triggers",
            "flows-record-plans",
            "flows-timers",
            "flows-runs",
            "flows-bulk-retries",
            "connections-poll",
            "sync-backfills",
            "sync-changes",
            "sync-waiting",
            "sync-remote",
            "sync-reconciliations",
        }
        assert await worker.stop() == 0
    lines = worker.output().splitlines()
    assert lines
    for line in lines:
        record = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(record), record
    assert any("(flows, sync) started" in json.loads(line)["message"] for line in lines)


async def test_an_unknown_group_is_refused_naming_the_valid_ones(database_url: str) -> None:
    result = await invoke_cli(database_url, "worker", "--only", "flows,mails")
    assert result.exit_code == 2
    said = " ".join(re.sub("[│╭╮╰╯─]", " ", result.output).split())  # out of its box
    refusal = "unknown worker group mails; valid groups: webhooks, flows, mail, sync, retention"
    assert refusal in said, said


async def test_the_worker_groups_setting_chooses_the_loops(db: Database) -> None:
    settings = Settings(database_url=db.url, worker_groups="mail, webhooks")
    async with running_workers(db, settings, CONTEXT_WORKERS) as worker:
        await asyncio.sleep(0)  # the worker's task takes its first turn: its loops beat
        assert set(worker.beats) == {
            "fan-out",
            "deliveries-0",
            "deliveries-1",
            "mailsuite-enrol",
            "mailsuite-send-0",
            "mailsuite-send-1",
        }


def test_an_unknown_group_in_the_setting_stops_an_api_from_starting(db: Database) -> None:
    with pytest.raises(ValueError, match="valid groups: webhooks, flows, mail, sync, retention"):
        create_app(Settings(database_url=db.url, worker_groups=["nope"]))

"""Storage and de-duplicate steps across runs of real flows on the live server."""

import itertools
import time
from typing import Any

from tests.flows.helpers import Hub, Json


def _action(step_id: str, action: str, **values: Any) -> Json:
    return {"type": "action", "id": step_id, "action": action, "input": values}


def _flow(*steps: Json) -> Json:
    return {"trigger": {"key": "contacts.contact.created"}, "steps": list(steps)}


async def _outputs(hub: Hub, flow_id: str, count: int) -> dict[str, dict[str, Any]]:
    """Each finished run's step outputs by step id, by the email of the contact it ran for."""
    found = {}
    for run in await hub.finished_runs(flow_id, count):
        detail = await hub.run(run["id"])
        assert detail["run"]["state"] == "succeeded", detail
        outputs = {step["stepId"]: step["output"] for step in detail["steps"]}
        found[detail["run"]["input"]["email"]] = outputs
    return found


async def test_a_value_stored_by_one_run_is_read_by_the_next(hub: Hub) -> None:
    flow = await hub.flow(
        _flow(
            _action("previous", "core.storage.get", key="last-signup", default="nobody"),
            _action("remember", "core.storage.set", key="last-signup", value="{{ trigger.email }}"),
            _action("count", "core.storage.increment", key="signups"),
            _action("tags", "core.storage.set", key="last-tags", value={"tags": [1, "two"]}),
        )
    )
    await hub.crm_contact(name="Ada", email="ada@example.com")
    await _outputs(hub, flow["id"], 1)
    await hub.crm_contact(name="Grace", email="grace@example.com")
    runs = await _outputs(hub, flow["id"], 2)
    first, second = runs["ada@example.com"], runs["grace@example.com"]

    assert first["previous"] == {"key": "last-signup", "value": "nobody", "found": False}
    assert second["previous"] == {"key": "last-signup", "value": "ada@example.com", "found": True}
    assert [first["count"]["value"], second["count"]["value"]] == [1, 2]

    reader = await hub.flow(
        _flow(
            _action("tags", "core.storage.get", key="last-tags"),
            _action("gone", "core.storage.delete", key="last-tags"),
            _action("again", "core.storage.get", key="last-tags"),
            _action("down", "core.storage.increment", key="signups", by=-0.5),
        ),
        name="Reader",
    )
    await hub.crm_contact(name="Edsger", email="edsger@example.com")
    read = (await _outputs(hub, reader["id"], 1))["edsger@example.com"]
    assert read["tags"]["value"] == {"tags": [1, "two"]}
    assert read["gone"]["found"] is True
    assert read["again"]["found"] is False
    # The first flow ran for that contact too: 3 signups, less a half.
    assert read["down"]["value"] in (1.5, 2.5)


async def test_incrementing_text_fails_naming_the_key(hub: Hub) -> None:
    flow = await hub.flow(
        _flow(
            _action("word", "core.storage.set", key="word", value="hello"),
            _action("count", "core.storage.increment", key="word"),
        )
    )
    await hub.crm_contact(name="Ada", email="ada@example.com")
    (run,) = await hub.finished_runs(flow["id"])
    detail = await hub.run(run["id"])
    assert detail["run"]["state"] == "failed"
    assert detail["steps"][1]["error"] == "key: 'word' holds str, not a number"


async def test_a_key_seen_within_the_window_skips_the_rest_of_the_run(hub: Hub) -> None:
    flow = await hub.flow(
        _flow(
            _action(
                "once", "core.dedupe", key="{{ trigger.tags | first }}", window={"seconds": 600}
            ),
            _action("count", "core.storage.increment", key="deduped"),
        )
    )
    await hub.crm_contact(name="Ada", email="ada@example.com", tags=["acme"])
    await hub.finished_runs(flow["id"], 1)
    await hub.crm_contact(name="Grace", email="grace@example.com", tags=["acme"])
    await hub.crm_contact(name="Edsger", email="edsger@example.com", tags=["other"])
    runs = await _outputs(hub, flow["id"], 3)
    first, repeat = runs["ada@example.com"], runs["grace@example.com"]
    other = runs["edsger@example.com"]

    assert first["once"] == {"key": "acme", "duplicate": False}
    assert repeat == {"once": {"key": "acme", "duplicate": True}}
    assert other["once"] == {"key": "other", "duplicate": False}
    assert other["count"]["value"] == 2


async def test_a_key_is_new_again_once_its_window_has_passed(hub: Hub) -> None:
    flow = await hub.flow(
        _flow(
            _action("once", "core.dedupe", key="{{ trigger.tags | first }}", window={"seconds": 1})
        )
    )
    await hub.crm_contact(name="Ada", email="ada@example.com", tags=["beta"])
    (first,) = (await _outputs(hub, flow["id"], 1)).values()
    assert first["once"] == {"key": "beta", "duplicate": False}
    # Contacts with the same key until one comes after the window: how many fall inside it
    # depends on the machine's pace, not on the behaviour under test.
    deadline = time.monotonic() + 60
    for number in itertools.count(1):
        email = f"again.{number}@example.com"
        await hub.crm_contact(name=f"Again {number}", email=email, tags=["beta"])
        outputs = (await _outputs(hub, flow["id"], number + 1))[email]
        if not outputs["once"]["duplicate"]:
            break
        assert time.monotonic() < deadline, "the key never became new again"

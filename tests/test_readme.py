"""The README, followed in order against a fresh demo: its curl walk-through (each command
run by bash with the real `curl`, KEY and API set as the reader sets them), the official
SDK snippet, then the events and webhooks lines. Each step is followed in the README by a
`# -> STATUS BODY` line saying what it answers, and the answer must match it.

The code is read from README.md itself, so the README and this test cannot drift apart. An
expected body is JSON where `...` stands for any value (`[...]` any list, `, ...}` more
keys); objects match when the keys they name match."""

import ast
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contactflow.demo import DemoData, DemoLocation, create_demo
from contactflow.platform.db import Database
from contactflow.platform.migrate import upgrade
from tests.support import live_server, server_settings

BASH = shutil.which("bash") or "/bin/bash"
README = Path(__file__).resolve().parents[1] / "README.md"
ANSWER = "# -> "
ANY = "\u2026any"
MORE = "\u2026more"
# Each curl of a step prints its body, then its status on a line of its own.
CURL_WITH_STATUS = "curl() { command curl -w '\\n%{http_code}' \"$@\"; }"


@dataclass
class Step:
    language: str
    code: list[str] = field(default_factory=list)
    answer: str = ""


def _blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.M | re.S)


def walkthrough() -> tuple[list[str], list[Step]]:
    """The set-up lines (assignments) and the steps, in README order: every `sh` block with
    a curl, and the python block."""
    setup: list[str] = []
    steps: list[Step] = []
    for language, body in _blocks(README.read_text(encoding="utf-8")):
        if language == "python":
            code, _, answer = body.rstrip().rpartition("\n")
            assert answer.startswith(ANSWER), "the SDK snippet ends with its answer"
            steps.append(Step(language, [code], answer.removeprefix(ANSWER)))
            continue
        if language != "sh" or "curl " not in body:
            continue
        current = Step(language)
        for line in body.splitlines():
            if line.startswith(ANSWER):
                current.answer = line.removeprefix(ANSWER)
                steps.append(current)
                current = Step(language)
            elif line.startswith(("KEY=", "API=")) or "make run" in line:
                continue  # the test sets KEY and API; the server is already running
            elif re.match(r"^[A-Z]+=", line):
                setup.append(line)
            else:
                current.code.append(line)
        assert not any(line.startswith("curl") for line in current.code), (
            f"a README command without its answer: {current.code}"
        )
    return setup, steps


def _pattern(answer: str) -> Any:
    """The expected JSON of an answer: `...` read as ANY, a list's trailing `, ...` as MORE
    (more items may follow), an object's dropped (its other keys are not compared anyway)."""
    text = re.sub(r",\s*\.\.\.\s*}", "}", answer)
    text = re.sub(r",\s*\.\.\.\s*]", lambda _: f", {json.dumps(MORE)}]", text)
    return json.loads(text.replace("...", json.dumps(ANY)))


def matches(expected: Any, actual: Any) -> bool:
    if expected == ANY:
        return True
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and matches(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        if expected == [ANY]:
            return isinstance(actual, list)
        more = bool(expected) and expected[-1] == MORE
        items = expected[:-1] if more else expected
        if not isinstance(actual, list) or len(actual) < len(items):
            return False
        if not more and len(actual) != len(items):
            return False
        return all(matches(item, got) for item, got in zip(items, actual, strict=False))
    return bool(expected == actual)


def _run_python(code: str, server_url: str, location: DemoLocation) -> Any:
    """The SDK snippet as the reader runs it, pointed at the server with the demo's key; what
    it prints last."""
    code = (
        code.replace('"http://127.0.0.1:8000"', repr(server_url))
        .replace('"cf_test_..."', repr(location.api_key))
        .replace('"LOCATION_ID"', repr(location.id))
    )
    run = subprocess.run(  # noqa: S603 - the README's own snippet
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    return ast.literal_eval(run.stdout.strip().splitlines()[-1])


def _run_sh(script: str, environment: dict[str, str]) -> tuple[str, Any]:
    """A step's commands in bash; the status and JSON body its curl printed."""
    run = subprocess.run(  # noqa: S603 - the README's own commands
        [BASH, "-c", "\n".join([CURL_WITH_STATUS, script])],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
    )
    assert run.returncode == 0, (script, run.stderr)
    body, _, status = run.stdout.rpartition("\n")
    return status, json.loads(body)


def test_the_readme_walkthrough_gives_the_documented_answers(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'contactflow.db'}"
    upgrade(url)
    first = _demo(url).locations[0]
    setup, steps = walkthrough()
    assert [step.language for step in steps].count("python") == 1
    with live_server(server_settings(url)) as server:
        environment = {**os.environ, "KEY": first.api_key, "API": server.base_url}
        contact_id = "CONTACT_ID"  # the README's placeholder, until the create answers
        for step in steps:
            if step.language == "python":
                printed = _run_python(step.code[0], server.base_url, first)
                assert matches(_pattern(step.answer), printed), (step.answer, printed)
                continue
            script = "\n".join([*setup, *step.code]).replace("CONTACT_ID", contact_id)
            status, answer = _run_sh(script, environment)
            expected_status, _, expected = step.answer.partition(" ")
            assert status == expected_status, (step.code, status, answer)
            assert matches(_pattern(expected), answer), (step.code, step.answer, answer)
            if contact_id == "CONTACT_ID" and "contact" in answer:
                contact_id = answer["contact"]["id"]


def _demo(url: str) -> DemoData:
    """A fresh demo, as `make run` loads it on a first run."""

    async def made() -> DemoData:
        db = Database(url)
        try:
            return await create_demo(db, region="US")
        finally:
            await db.dispose()

    return asyncio.run(made())

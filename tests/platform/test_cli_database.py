"""Commands other than `serve`, `migrate` and `demo` never make a database: run where there is
none, or on one that was never migrated, they say which database they looked for and how to
name the right one, and exit with status 2, without a traceback and without leaving a file
behind. Each runs as a process of its own, in a folder of its own."""

import asyncio
import os
import sqlite3
from contextlib import closing
from pathlib import Path

from tests.support import CONTACTFLOW, settings_env

# A reading command, the long-running worker, and the key rotation (which would otherwise make a
# key file first).
COMMANDS = (("keys", "list"), ("worker",), ("secrets", "rotate-key"))


async def attempt(folder: Path, *args: str, **settings: str) -> tuple[int, str, str]:
    """`contactflow ARGS` run in `folder` with only these CONTACTFLOW_ settings: its exit status,
    stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        str(CONTACTFLOW),
        *args,
        cwd=folder,
        env=settings_env(**settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        # Generous: a start costs seconds, and these start together on a busy machine.
        async with asyncio.timeout(300):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def assert_refused(outcome: tuple[int, str, str], database: str, source: str) -> None:
    code, out, err = outcome
    assert code == 2, (code, out, err)
    message = " ".join(err.split())  # as printed, whatever the width
    assert database in message, message
    assert source in message, message
    assert "CONTACTFLOW_DATABASE_URL" in message
    assert "from the folder that holds your contactflow.db" in message
    assert "Traceback" not in out + err


async def test_no_command_makes_a_database_where_there_is_none(tmp_path: Path) -> None:
    here, elsewhere = tmp_path / "here", tmp_path / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    named = elsewhere / "contactflow.db"
    *outcomes, outcome_of_named = await asyncio.gather(
        *(attempt(here, *command) for command in COMMANDS),
        attempt(
            here, "audit", "--location", "someLocation", database_url=f"sqlite+aiosqlite:///{named}"
        ),
    )
    for outcome in outcomes:
        assert_refused(
            outcome,
            f"no contactflow database at {here / 'contactflow.db'}",
            "the default: contactflow.db in the current folder",
        )
    assert_refused(
        outcome_of_named, f"no contactflow database at {named}", "named by CONTACTFLOW_DATABASE_URL"
    )
    # Neither a database nor a key file.
    assert os.listdir(here) == []
    assert os.listdir(elsewhere) == []


async def test_a_database_without_tables_is_named_and_left_alone(
    empty_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    if empty_url.startswith("sqlite"):
        path = Path(empty_url.split("///", 1)[1])
        with closing(sqlite3.connect(path)) as connection:
            connection.execute("PRAGMA user_version = 1")  # the file exists, with no table
        shown = str(path)
    else:
        shown = empty_url  # it has no password to hide
    outcome = await attempt(folder, "keys", "list", database_url=empty_url)
    assert_refused(outcome, "has no contactflow tables", "named by CONTACTFLOW_DATABASE_URL")
    assert shown in outcome[2].replace("\n", "")
    assert "`contactflow migrate` creates them" in " ".join(outcome[2].split())
    assert os.listdir(folder) == []

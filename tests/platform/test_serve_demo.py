"""`contactflow serve --demo`, what `make run` runs: while the demo loads (half a minute on a
first run) a progress bar on stderr, then the keys and, once it serves, the URLs, each whole
on its line with its label, in a terminal of 80 columns as of 40."""

import asyncio
import signal
from pathlib import Path

import httpx

from tests.support import CONTACTFLOW, free_port, settings_env


async def serve_demo(folder: Path, columns: int) -> tuple[str, str, str]:
    """Start `contactflow serve --demo` in `folder`, read what it prints until it serves, and
    stop it: (its base URL, stdout, stderr)."""
    port = free_port()
    env = {**settings_env(embedded_workers="false"), "COLUMNS": str(columns)}
    process = await asyncio.create_subprocess_exec(
        str(CONTACTFLOW),
        *("serve", "--demo", "--port", str(port)),
        cwd=folder,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    printed: list[str] = []
    try:
        # Making the demo takes half a minute on a quiet machine, several on a busy one.
        async with asyncio.timeout(420):
            while not printed or "API docs" not in printed[-1]:
                line = await process.stdout.readline()
                assert line, f"serve ended before it served: {''.join(printed)}"
                printed.append(line.decode())
        # Said once it serves, not before: the URL answers at once, and SIGINT finds the
        # server's own handlers in place.
        async with httpx.AsyncClient(timeout=30) as http:
            assert (await http.get(f"http://127.0.0.1:{port}/livez")).status_code == 200
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            rest, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return f"http://127.0.0.1:{port}", "".join(printed) + rest.decode(), err.decode()


async def test_make_run_shows_progress_then_each_key_and_url_whole(tmp_path: Path) -> None:
    # The first start makes the demo; the second finds it and prints new keys.
    for columns in (80, 40):
        base_url, out, err = await serve_demo(tmp_path, columns)
        lines = out.splitlines()
        if columns == 80:
            assert "demo contacts" in err
            assert "200/200" in err
        for whole in (
            f"contactflow is serving on {base_url}",
            f"API docs: {base_url}/docs",
            f"curl -s '{base_url}/contacts/?limit=5'",
            f"sandbox outbox (the mail it sends): {base_url}/mailsuite/v1/sandbox/messages",
        ):
            assert any(whole in line for line in lines), (columns, whole, out)
        keys = [line for line in lines if "API key: cf_test_" in line]
        assert len(keys) == 2, out
        assert all(len(line.split("cf_test_")[1]) > 20 for line in keys), keys

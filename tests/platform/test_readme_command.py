"""The README's way to run the command line works after `make run`, which installs nothing on
the PATH: the path it names is the checkout's installed `contactflow` script, and it runs."""

import re
import subprocess
from pathlib import Path

from tests.support import CONTACTFLOW

CHECKOUT = Path(__file__).resolve().parents[2]


def test_the_readme_names_the_installed_command() -> None:
    readme = (CHECKOUT / "README.md").read_text()
    # uv lives in .tools/bin: a new user's shell has no `uv`.
    assert "uv run contactflow" not in readme
    assert re.findall(r"`(\S*/contactflow) …`", readme) == [".venv/bin/contactflow"]
    script = CHECKOUT / ".venv" / "bin" / "contactflow"
    assert script == CONTACTFLOW  # the one these tests run
    shown = subprocess.run(  # noqa: S603 - our own command
        [script, "--help"], capture_output=True, text=True, timeout=120, check=False
    )
    assert shown.returncode == 0, shown.stderr
    assert "serve" in shown.stdout

"""`contactflow mailsuite send-test` sends through a sender's SMTP server and shows the
answer; `contactflow mailsuite timeline` prints a contact's timeline. (Each command is a
process of its own, so there are as few as possible.)"""

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.mailsuite.helpers import PUBLIC_BASE, Mail
from tests.mailsuite.smtpd import Mailbox

CONTACTFLOW = Path(sys.executable).with_name("contactflow")


async def _cli(database_url: str, *args: str) -> tuple[int, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONTACTFLOW_")}
    env.update(
        {
            "CONTACTFLOW_DATABASE_URL": database_url,
            "CONTACTFLOW_BASE_URL": PUBLIC_BASE,
            "CONTACTFLOW_SMTP_ALLOWED_NETWORKS": json.dumps(["127.0.0.1/32"]),
            "CONTACTFLOW_SMTP_TIMEOUT_SECONDS": "5",
            "COLUMNS": "300",
        }
    )
    process = await asyncio.create_subprocess_exec(
        str(CONTACTFLOW),
        "mailsuite",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(60):
        out, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_send_test_and_timeline(mail: Mail, smtp: Mailbox, mail_database_url: str) -> None:
    sender = await mail.sender(smtp)
    code, out = await _cli(
        mail_database_url, "send-test", "--to", "ops@example.com", "--sender", sender["id"]
    )
    assert code == 0, out
    assert "sent" in out
    assert "server answered: 250" in out
    [received] = smtp.to("ops@example.com")
    assert received.message["Subject"] == "contactflow test message"
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    [contact] = (await mail.get("/contacts"))["contacts"]
    assert contact["source"] == "cli"
    code, out = await _cli(mail_database_url, "timeline", contact["id"])
    assert code == 0, out
    assert "ops@example.com" in out
    assert "email_sent" in out

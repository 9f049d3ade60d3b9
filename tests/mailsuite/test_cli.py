"""`contactflow mailsuite send-test` sends through a sender's SMTP server and shows the
answer; `contactflow mailsuite resend` sends a failed email again and shows the answer;
`contactflow mailsuite timeline` prints a contact's timeline; `contactflow mailsuite outbox`
lists and shows the sandbox outbox. (A command run as a process of its own costs seconds of
imports, so one runs as a process, where its output is a pipe; the others run in this
process.)"""

import asyncio
import json

from tests.mailsuite.helpers import API, PUBLIC_BASE, Mail
from tests.mailsuite.smtpd import Mailbox
from tests.support import CONTACTFLOW, invoke_cli, settings_env

# The commands' CONTACTFLOW_ settings besides the database: links to the public address, and
# the tests' SMTP server on loopback.
SETTINGS = {
    "base_url": PUBLIC_BASE,
    "smtp_allowed_networks": json.dumps(["127.0.0.1/32"]),
    "smtp_timeout_seconds": "5",
}


async def _cli(database_url: str, *args: str, columns: int) -> tuple[int, str]:
    """`contactflow mailsuite ARGS` as a process of its own, its output a pipe."""
    env = settings_env(database_url=database_url, **SETTINGS)
    env["COLUMNS"] = str(columns)
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


async def _invoked(database_url: str, *args: str) -> tuple[int, str]:
    """`contactflow mailsuite ARGS` in this process, with the same settings."""
    result = await invoke_cli(database_url, "mailsuite", *args, settings=SETTINGS)
    return result.exit_code, result.output


async def test_send_test_and_timeline(mail: Mail, smtp: Mailbox, mail_database_url: str) -> None:
    sender = await mail.sender(smtp)
    code, out = await _invoked(
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
    code, out = await _invoked(mail_database_url, "timeline", contact["id"])
    assert code == 0, out
    assert "ops@example.com" in out
    assert "email_sent" in out


async def test_outbox_lists_whole_ids_and_shows_a_message(
    sandbox_mail: Mail, mail_database_url: str
) -> None:
    mail = sandbox_mail
    sender = (await mail.post("/senders", {"name": "T", "fromEmail": "t@acme.example.org"}))[
        "sender"
    ]
    contact = await mail.contact("outbox@example.com", firstName="Olive")
    queued = await mail.send(
        senderId=sender["id"],
        contactId=contact["id"],
        subject="Hi {{first_name|there}}",
        html="<p>Dear {{first_name|there}}</p>",
    )
    await mail.wait_sent(queued["id"])
    [message] = (await mail.get("/sandbox/messages"))["messages"]
    location = mail.tenant.location_id

    # A pipe is 80 columns wide: the ids are printed whole all the same.
    code, out = await _cli(mail_database_url, "outbox", "--location", location, columns=80)
    assert code == 0, out
    assert message["id"] in out
    assert queued["id"] in out

    listed = await invoke_cli(
        mail_database_url, "mailsuite", "outbox", "--location", location, "--json"
    )
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == [message]

    shown = await invoke_cli(mail_database_url, "mailsuite", "outbox", message["id"])
    assert shown.exit_code == 0, shown.output
    assert "Subject: Hi Olive" in shown.stdout
    assert f"Message-ID: {queued['messageId']}" in shown.stdout
    assert "Dear Olive" in shown.stdout
    detail = await invoke_cli(mail_database_url, "mailsuite", "outbox", message["id"], "--json")
    assert json.loads(detail.stdout) == await mail.get(f"/sandbox/messages/{message['id']}")
    raw = await invoke_cli(mail_database_url, "mailsuite", "outbox", message["id"], "--raw")
    assert raw.exit_code == 0, raw.output
    assert (
        raw.stdout_bytes
        == (await mail.http.get(f"{API}/sandbox/messages/{message['id']}/raw")).content
    )

    missing = await invoke_cli(mail_database_url, "mailsuite", "outbox", "no-such-message")
    assert missing.exit_code == 1
    assert "Sandbox message not found" in missing.stdout


async def test_resend_sends_a_failed_email_again(
    mail: Mail, smtp: Mailbox, mail_database_url: str
) -> None:
    smtp.refuse("back@example.com", "550 5.2.1 <back@example.com>: mailbox disabled")
    sender = await mail.sender(smtp)
    contact = await mail.contact("back@example.com")
    email = await mail.send(
        senderId=sender["id"], contactId=contact["id"], subject="Hi", html="<p>Hi</p>"
    )
    await mail.wait_email(email["id"], lambda row: row["status"] == "failed")
    smtp.accept("back@example.com")
    code, out = await _invoked(mail_database_url, "resend", email["id"])
    assert code == 0, out
    assert f"email {email['id']} {email['messageId']}: sent" in out
    assert "server answered: 250" in out
    [received] = smtp.to("back@example.com")
    assert received.message["Message-ID"] == email["messageId"]

    code, out = await _invoked(mail_database_url, "resend", email["id"])
    assert code == 1, out
    assert "The email is sent; only a failed email can be resent" in out

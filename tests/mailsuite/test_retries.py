"""Temporary SMTP failures are retried on the schedule and the message is sent once;
permanent ones, and a server down for good, fail the email with the server's answer (or the
connection error); throttles hold; a sender's SMTP settings can be checked before use."""

import asyncio

from sqlalchemy import update

from contactflow.mailsuite.models import Sender
from contactflow.platform.db import Database
from tests.mailsuite.helpers import RETRY_DELAYS, Json, Mail, poll
from tests.mailsuite.smtpd import Mailbox, running_mailbox


async def _email(mail: Mail, smtp: Mailbox, to: str, **fields: object) -> Json:
    sender = await mail.sender(smtp, **fields)
    contact = await mail.contact(to)
    return await mail.send(
        senderId=sender["id"], contactId=contact["id"], subject="Hi", html="<p>Hi</p>"
    )


async def test_a_4xx_reply_is_retried_and_the_message_sent_once(mail: Mail, smtp: Mailbox) -> None:
    smtp.refuse_next("451 4.3.0 Greylisted, try again later")
    email = await _email(mail, smtp, "grey@example.com")
    sent = await mail.wait_sent(email["id"])
    assert sent["attempts"] == 2
    assert sent["error"] is None
    assert sent["lastResponse"].startswith("250 ")
    assert len(smtp.to("grey@example.com")) == 1
    assert len(await mail.events("EmailSent")) == 1


async def test_server_down_then_up_is_retried_and_sent_once(mail: Mail, smtp: Mailbox) -> None:
    sender = await mail.sender(smtp)
    smtp.stop()
    contact = await mail.contact("patient@example.com")
    email = await mail.send(
        senderId=sender["id"], contactId=contact["id"], subject="Hi", html="<p>Hi</p>"
    )
    waiting = await mail.wait_email(email["id"], lambda row: row["attempts"] >= 2)
    assert waiting["status"] in ("scheduled", "sending")
    assert waiting["error"].startswith("connection error:")
    smtp.start()
    sent = await mail.wait_sent(email["id"])
    assert sent["attempts"] >= 3
    assert len(smtp.to("patient@example.com")) == 1
    assert len(await mail.events("EmailSent")) == 1


async def test_server_down_for_good_fails_with_the_reason(mail: Mail, smtp: Mailbox) -> None:
    sender = await mail.sender(smtp)
    smtp.stop()
    contact = await mail.contact("lost@example.com")
    email = await mail.send(
        senderId=sender["id"], contactId=contact["id"], subject="Hi", html="<p>Hi</p>"
    )
    failed = await mail.wait_email(email["id"], lambda row: row["status"] == "failed")
    attempts = len(RETRY_DELAYS) + 1
    assert failed["attempts"] == attempts
    assert failed["error"].startswith("connection error:")
    assert failed["error"].endswith(f"(gave up after {attempts} attempts)")
    assert failed["sentAt"] is None
    assert await mail.events("EmailSent") == []
    [event] = await mail.events("EmailFailed")
    assert (event["payload"]["error"], event["payload"]["attempts"]) == (failed["error"], attempts)


async def test_a_5xx_reply_fails_at_once_with_the_answer(mail: Mail, smtp: Mailbox) -> None:
    smtp.refuse_next("550 5.1.1 <nobody@example.com>: Recipient address rejected")
    email = await _email(mail, smtp, "nobody@example.com")
    failed = await mail.wait_email(email["id"], lambda row: row["status"] == "failed")
    assert failed["attempts"] == 1
    assert failed["error"] == "550 5.1.1 <nobody@example.com>: Recipient address rejected"
    assert smtp.received == []


async def test_a_host_the_address_rule_refuses_at_send_time_fails_the_email_at_once(
    mail: Mail, mail_db: Database, smtp: Mailbox
) -> None:
    sender = await mail.sender(smtp)
    # Allowed when saved, refused when sending: as a host name now resolving to a private
    # address, or one left out of a narrower CONTACTFLOW_SMTP_ALLOWED_NETWORKS, would be.
    async with mail_db.unit_of_work() as uow:
        await uow.session.execute(
            update(Sender).where(Sender.id == sender["id"]).values(smtp_host="127.0.0.2")
        )
    contact = await mail.contact("refused@example.com")
    email = await mail.send(
        senderId=sender["id"], contactId=contact["id"], subject="Hi", html="<p>Hi</p>"
    )
    failed = await mail.wait_email(email["id"], lambda row: row["status"] == "failed")
    assert failed["attempts"] == 1
    assert failed["error"].startswith("refused: 127.0.0.2 resolves to a non-public address")
    assert failed["error"].endswith("allow it with CONTACTFLOW_SMTP_ALLOWED_NETWORKS")
    assert smtp.received == []


async def test_the_sender_throttle_holds_messages_past_its_budget(
    mail: Mail, smtp: Mailbox
) -> None:
    sender = await mail.sender(smtp, maxPerMinute=2)
    ids = []
    for number in range(3):
        contact = await mail.contact(f"t{number}@example.com")
        email = await mail.send(
            senderId=sender["id"], contactId=contact["id"], subject="Hi", html="<p>Hi</p>"
        )
        ids.append(email["id"])

    async def received() -> int:
        return len(smtp.received)

    await poll(received, lambda count: count == 2)
    # Many worker rounds later (they poll every 50 ms) the third still waits for its minute.
    await asyncio.sleep(0.5)
    states = [(await mail.email(email_id))["status"] for email_id in ids]
    assert sorted(states) == ["scheduled", "sent", "sent"]
    assert len(smtp.received) == 2


async def test_verify_reports_whether_the_smtp_settings_work(mail: Mail, smtp: Mailbox) -> None:
    sender = await mail.sender(smtp)
    working = await mail.post(f"/senders/{sender['id']}/verify", status=200)
    assert working["ok"] is True
    assert working["response"].startswith("250")
    smtp.stop()
    broken = await mail.post(f"/senders/{sender['id']}/verify", status=200)
    assert broken["ok"] is False
    assert broken["response"].startswith("connection error:")


async def test_smtp_login_uses_the_stored_password_never_shown(mail: Mail) -> None:
    with running_mailbox(credentials=("mailer", "s3cret-pass")) as guarded:
        sender = await mail.sender(guarded, smtpUsername="mailer", smtpPassword="s3cret-pass")
        assert sender["hasPassword"] is True
        assert "s3cret-pass" not in str(await mail.get(f"/senders/{sender['id']}"))
        contact = await mail.contact("authed@example.com")
        email = await mail.send(
            senderId=sender["id"], contactId=contact["id"], subject="Hi", html="<p>Hi</p>"
        )
        await mail.wait_sent(email["id"])
        [received] = guarded.received
        assert received.login == "mailer"

        wrong = await mail.sender(guarded, smtpUsername="mailer", smtpPassword="wrong")
        check = await mail.post(f"/senders/{wrong['id']}/verify", status=200)
        assert check["ok"] is False
        assert check["response"].startswith("535")

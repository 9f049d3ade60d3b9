"""The flows context's retention rules (platform/retention.py runs them): finished runs older
than the retention (by their finish time) go with their step runs; queued, running and
waiting runs stay however old. The keys flows let through go once their window is over, and
what connections brought in (receipts) after their retention: a repeat older than that is
taken as new."""

from datetime import timedelta

from contactflow.flows.connections.models import ConnectionReceipt
from contactflow.flows.keyvalue import SeenKey
from contactflow.flows.models import CANCELLED, FAILED, SUCCEEDED, FlowRun, StepRun
from contactflow.platform.retention import TableRule, older_than
from contactflow.settings import Settings

FINISHED = (SUCCEEDED, FAILED, CANCELLED)


def rules(settings: Settings) -> list[TableRule]:
    runs_kept = timedelta(days=settings.flow_run_retention_days)
    return [
        TableRule(
            "flow runs",
            (FlowRun.id,),
            lambda now: FlowRun.state.in_(FINISHED) & (FlowRun.finished_at < now - runs_kept),
            (StepRun.run_id,),
        ),
        TableRule(
            "flow seen keys", (SeenKey.flow_id, SeenKey.key), lambda now: SeenKey.expires_at < now
        ),
        TableRule(
            "connection receipts",
            (ConnectionReceipt.connection_id, ConnectionReceipt.key),
            older_than(
                ConnectionReceipt.created_at,
                timedelta(days=settings.connection_receipt_retention_days),
            ),
        ),
    ]

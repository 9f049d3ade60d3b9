"""What a commit wakes. A unit of work names the topics of the work it made
(`UnitOfWork.wake`); each worker loop and live stream waits on the topics of the work it does,
so a webhook delivery does not wake the flow loops, nor an email the deliveries.

Every appended event wakes its own type's topic and `EVENTS`, the one of consumers that read
every event (the webhook fan-out, the live streams).
"""

EVENTS = "events"
# Work items and jobs, each waited on by its loop.
DELIVERIES = "deliveries"
FLOW_RUNS = "flow-runs"
FLOW_TIMERS = "flow-timers"
FLOW_BULK_RETRIES = "flow-bulk-retries"
CONNECTION_POLLS = "connection-polls"
# A connection connected again or changed: what waited for it (a sync asking to reconnect)
# goes on.
CONNECTION_CHANGED = "connection-changed"
MAIL = "mail"
# A sync's backfill to advance; a resumed sync's changes to read.
SYNC_BACKFILLS = "sync-backfills"
SYNC_CHANGES = "sync-changes"
# A reconciliation to run, or its findings to repair.
SYNC_RECONCILIATIONS = "sync-reconciliations"


def event(event_type: str) -> str:
    """The topic of the consumers of one event type."""
    return f"event:{event_type}"


def of_event(event_type: str) -> tuple[str, str]:
    """What appending an event of `event_type` wakes."""
    return EVENTS, event(event_type)

"""Event type names: the contract between producers, webhooks and flow triggers.

HighLevel's names first (their receivers already understand them), then contactflow's own.
"""

CONTACT_CREATE = "ContactCreate"
CONTACT_UPDATE = "ContactUpdate"
CONTACT_DELETE = "ContactDelete"
CONTACT_DND_UPDATE = "ContactDndUpdate"
CONTACT_TAG_UPDATE = "ContactTagUpdate"
NOTE_CREATE = "NoteCreate"
NOTE_UPDATE = "NoteUpdate"
NOTE_DELETE = "NoteDelete"
TASK_CREATE = "TaskCreate"
TASK_UPDATE = "TaskUpdate"
TASK_COMPLETE = "TaskComplete"
TASK_DELETE = "TaskDelete"
APPOINTMENT_CREATE = "AppointmentCreate"
APPOINTMENT_UPDATE = "AppointmentUpdate"
APPOINTMENT_DELETE = "AppointmentDelete"
BUSINESS_CREATE = "BusinessCreate"
BUSINESS_UPDATE = "BusinessUpdate"
BUSINESS_DELETE = "BusinessDelete"
# Memberships recorded by the Contacts API for the Mailsuite and flows contexts to act on.
CONTACT_CAMPAIGN_ADD = "ContactCampaignAdd"
CONTACT_CAMPAIGN_REMOVE = "ContactCampaignRemove"
CONTACT_WORKFLOW_ADD = "ContactWorkflowAdd"
CONTACT_WORKFLOW_REMOVE = "ContactWorkflowRemove"
WEBHOOK_ENDPOINT_DISABLED = "WebhookEndpointDisabled"
WEBHOOK_TEST = "WebhookTest"
# Mailsuite: email sending and tracking, its contacts, tasks and timeline.
EMAIL_SENT = "EmailSent"
# An email that will not be sent: refused for good, out of retries, or its contact gone.
EMAIL_FAILED = "EmailFailed"
EMAIL_OPENED = "EmailOpened"
EMAIL_FIRST_OPENED = "EmailFirstOpened"
LINK_CLICKED = "LinkClicked"
LINK_FIRST_CLICKED = "LinkFirstClicked"
EMAIL_BOUNCED = "EmailBounced"
EMAIL_UNSUBSCRIBED = "EmailUnsubscribed"
MAILSUITE_CONTACT_UPSERT = "MailsuiteContactUpsert"
MAILSUITE_CONTACT_DELETE = "MailsuiteContactDelete"
MAILSUITE_TASK_CREATE = "MailsuiteTaskCreate"
MAILSUITE_TASK_UPDATE = "MailsuiteTaskUpdate"
MAILSUITE_TASK_COMPLETE = "MailsuiteTaskComplete"
MAILSUITE_TASK_DELETE = "MailsuiteTaskDelete"
TIMELINE_ENTRY_CREATE = "TimelineEntryCreate"
TIMELINE_ENTRY_UPDATE = "TimelineEntryUpdate"
TIMELINE_ENTRY_DELETE = "TimelineEntryDelete"
# A launched campaign with no email left to send (each sent, failed or cancelled).
CAMPAIGN_FINISHED = "CampaignFinished"
# Flows: a run finished (for alerting).
FLOW_RUN_SUCCEEDED = "FlowRunSucceeded"
FLOW_RUN_FAILED = "FlowRunFailed"
# The issues inbox: a failing subject's issue opened (or re-opened), and resolved.
ISSUE_OPENED = "IssueOpened"
ISSUE_RESOLVED = "IssueResolved"
# Syncs: a record a side refused, a field changed on both sides, a reconciliation finished
# (and one that found something out of step), findings repaired.
SYNC_FAILED = "SyncFailed"
SYNC_CONFLICT = "SyncConflict"
SYNC_RECONCILIATION_FINISHED = "SyncReconciliationFinished"
SYNC_DRIFT_FOUND = "SyncDriftFound"
SYNC_REPAIRED = "SyncRepaired"

# Every event type, by the resource it is about (the dashboard's pickers group them so).
EVENT_TYPES_BY_RESOURCE: dict[str, tuple[str, ...]] = {
    "Contacts": (
        CONTACT_CREATE,
        CONTACT_UPDATE,
        CONTACT_DELETE,
        CONTACT_DND_UPDATE,
        CONTACT_TAG_UPDATE,
        CONTACT_CAMPAIGN_ADD,
        CONTACT_CAMPAIGN_REMOVE,
        CONTACT_WORKFLOW_ADD,
        CONTACT_WORKFLOW_REMOVE,
    ),
    "Notes": (NOTE_CREATE, NOTE_UPDATE, NOTE_DELETE),
    "Tasks": (TASK_CREATE, TASK_UPDATE, TASK_COMPLETE, TASK_DELETE),
    "Appointments": (APPOINTMENT_CREATE, APPOINTMENT_UPDATE, APPOINTMENT_DELETE),
    "Businesses": (BUSINESS_CREATE, BUSINESS_UPDATE, BUSINESS_DELETE),
    "Mailsuite emails": (
        EMAIL_SENT,
        EMAIL_FAILED,
        EMAIL_OPENED,
        EMAIL_FIRST_OPENED,
        LINK_CLICKED,
        LINK_FIRST_CLICKED,
        EMAIL_BOUNCED,
        EMAIL_UNSUBSCRIBED,
    ),
    "Mailsuite campaigns": (CAMPAIGN_FINISHED,),
    "Mailsuite contacts": (MAILSUITE_CONTACT_UPSERT, MAILSUITE_CONTACT_DELETE),
    "Mailsuite tasks": (
        MAILSUITE_TASK_CREATE,
        MAILSUITE_TASK_UPDATE,
        MAILSUITE_TASK_COMPLETE,
        MAILSUITE_TASK_DELETE,
    ),
    "Mailsuite timeline": (TIMELINE_ENTRY_CREATE, TIMELINE_ENTRY_UPDATE, TIMELINE_ENTRY_DELETE),
    "Flow runs": (FLOW_RUN_SUCCEEDED, FLOW_RUN_FAILED),
    "Webhooks": (WEBHOOK_ENDPOINT_DISABLED, WEBHOOK_TEST),
    "Issues": (ISSUE_OPENED, ISSUE_RESOLVED),
    "Syncs": (
        SYNC_FAILED,
        SYNC_CONFLICT,
        SYNC_RECONCILIATION_FINISHED,
        SYNC_DRIFT_FOUND,
        SYNC_REPAIRED,
    ),
}
EVENT_TYPES = frozenset(name for names in EVENT_TYPES_BY_RESOURCE.values() for name in names)
# Delivered only to the webhook endpoints that pick them: an endpoint of every event type would
# otherwise be told of its own failures by deliveries that fail in turn.
PICKED_ONLY = frozenset({ISSUE_OPENED, ISSUE_RESOLVED})

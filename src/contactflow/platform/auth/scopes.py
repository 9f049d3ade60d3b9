"""The scopes a credential can carry. No scope implies another."""

CONTACTS_READ = "contacts.readonly"
CONTACTS_WRITE = "contacts.write"
BUSINESSES_READ = "businesses.readonly"
BUSINESSES_WRITE = "businesses.write"
CALENDAR_EVENTS_READ = "calendars/events.readonly"
CALENDAR_EVENTS_WRITE = "calendars/events.write"
USERS_READ = "users.readonly"
LOCATIONS_READ = "locations.readonly"
EVENTS_READ = "events.readonly"
WEBHOOKS_READ = "webhooks.readonly"
WEBHOOKS_WRITE = "webhooks.write"
AUDIT_READ = "audit.readonly"
MAILSUITE_READ = "mailsuite.readonly"
MAILSUITE_WRITE = "mailsuite.write"
FLOWS_READ = "flows.readonly"
FLOWS_WRITE = "flows.write"
CONNECTIONS_READ = "connections.readonly"
CONNECTIONS_WRITE = "connections.write"
SYNC_READ = "sync.readonly"
SYNC_WRITE = "sync.write"
ISSUES_READ = "issues.readonly"
ISSUES_WRITE = "issues.write"
# Company (agency) tokens only: list the app's installed locations, mint location tokens.
OAUTH_READ = "oauth.readonly"
OAUTH_WRITE = "oauth.write"

# Every scope, by the resource it reaches: the dashboard's forms draw these groups, so a new
# scope cannot be left out of them.
SCOPES_BY_RESOURCE: dict[str, tuple[str, ...]] = {
    "Contacts": (CONTACTS_READ, CONTACTS_WRITE),
    "Businesses": (BUSINESSES_READ, BUSINESSES_WRITE),
    "Calendar events": (CALENDAR_EVENTS_READ, CALENDAR_EVENTS_WRITE),
    "Users and locations": (USERS_READ, LOCATIONS_READ),
    "Events and webhooks": (EVENTS_READ, WEBHOOKS_READ, WEBHOOKS_WRITE),
    "Audit log": (AUDIT_READ,),
    "Mailsuite": (MAILSUITE_READ, MAILSUITE_WRITE),
    "Flows": (FLOWS_READ, FLOWS_WRITE),
    "Connections": (CONNECTIONS_READ, CONNECTIONS_WRITE),
    "Sync": (SYNC_READ, SYNC_WRITE),
    "Issues": (ISSUES_READ, ISSUES_WRITE),
    "Company OAuth tokens": (OAUTH_READ, OAUTH_WRITE),
}
KNOWN_SCOPES = frozenset(scope for scopes in SCOPES_BY_RESOURCE.values() for scope in scopes)
COMPANY_SCOPES = frozenset({OAUTH_READ, OAUTH_WRITE})

# What demo keys carry: every scope a location credential can use.
DEFAULT_KEY_SCOPES = tuple(sorted(KNOWN_SCOPES - COMPANY_SCOPES))

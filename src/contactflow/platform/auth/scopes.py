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
# Company (agency) tokens only: list the app's installed locations, mint location tokens.
OAUTH_READ = "oauth.readonly"
OAUTH_WRITE = "oauth.write"

KNOWN_SCOPES = frozenset(
    {
        CONTACTS_READ,
        CONTACTS_WRITE,
        BUSINESSES_READ,
        BUSINESSES_WRITE,
        CALENDAR_EVENTS_READ,
        CALENDAR_EVENTS_WRITE,
        USERS_READ,
        LOCATIONS_READ,
        EVENTS_READ,
        WEBHOOKS_READ,
        WEBHOOKS_WRITE,
        AUDIT_READ,
        MAILSUITE_READ,
        MAILSUITE_WRITE,
        FLOWS_READ,
        FLOWS_WRITE,
        CONNECTIONS_READ,
        CONNECTIONS_WRITE,
        OAUTH_READ,
        OAUTH_WRITE,
    }
)
COMPANY_SCOPES = frozenset({OAUTH_READ, OAUTH_WRITE})

# What demo keys carry: every scope a location credential can use.
DEFAULT_KEY_SCOPES = tuple(sorted(KNOWN_SCOPES - COMPANY_SCOPES))

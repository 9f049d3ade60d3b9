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
    }
)

# What demo keys carry: every scope.
DEFAULT_KEY_SCOPES = tuple(sorted(KNOWN_SCOPES))

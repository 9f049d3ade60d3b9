"""The scopes a credential can carry. No scope implies another."""

CONTACTS_READ = "contacts.readonly"
CONTACTS_WRITE = "contacts.write"
BUSINESSES_READ = "businesses.readonly"
BUSINESSES_WRITE = "businesses.write"
CALENDAR_EVENTS_READ = "calendars/events.readonly"
CALENDAR_EVENTS_WRITE = "calendars/events.write"
USERS_READ = "users.readonly"
LOCATIONS_READ = "locations.readonly"

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
    }
)

# What `keys create` grants when no scope is named: everything the Contacts API serves.
DEFAULT_KEY_SCOPES = tuple(sorted(KNOWN_SCOPES))

"""Two-way sync between the Contacts API's contacts and Mailsuite's: syncs as data, the
identity map of linked pairs, a resumable backfill and incremental sync from the event log."""

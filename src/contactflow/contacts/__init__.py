"""The Contacts API context: contacts, tasks, notes, tags, followers, businesses,
calendar appointments, as HighLevel v2 has them on the wire."""

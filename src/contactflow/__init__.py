"""contactflow: contacts and email integration hub."""

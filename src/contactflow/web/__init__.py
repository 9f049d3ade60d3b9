"""The dashboard: server-rendered pages for people, beside the API for programs."""

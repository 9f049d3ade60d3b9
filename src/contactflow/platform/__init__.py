"""Shared infrastructure under every context; it imports no context."""

"""Webhooks: endpoints, signing, fan-out of events into deliveries, and delivery with retries."""

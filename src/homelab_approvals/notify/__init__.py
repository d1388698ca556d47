"""Notifications: a caller of the service, like the CLI and the console. It reads the
audit trail after the fact and posts to webhooks; no decision ever waits on it."""

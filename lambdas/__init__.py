"""Blu's Lambda functions: the launcher (login, status, wake, shutdown) and the idle checker."""

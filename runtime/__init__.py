"""Blu's container application: the web API, agent sessions, files and voice (login and store: core/)."""

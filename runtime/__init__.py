"""Blu's container application: the web API, agent sessions, voice worker and store."""

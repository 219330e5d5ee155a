"""Blu backups: the archive format, and writing, reading and verifying it (stdlib only, for the Lambdas too)."""

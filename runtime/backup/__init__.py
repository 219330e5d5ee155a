"""Backups of a running Blu: snapshots to the backups bucket (or a folder), restore, export and import."""

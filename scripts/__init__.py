"""Command-line helpers for deploying and operating Blu."""

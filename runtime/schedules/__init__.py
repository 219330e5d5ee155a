"""Scheduled runs: when a schedule is due (recurrence), running it (scheduler), and waking Blu for it in AWS (sync)."""

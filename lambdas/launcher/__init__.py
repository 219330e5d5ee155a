"""The launcher: Blu's login page, waking overlay, status, wake and shutdown while the task may be asleep."""

"""Claude agent sessions: the session manager, its per-session workers and the event stream."""

"""The idle checker: every few minutes, scale Blu to zero when the shared idle rule says so."""

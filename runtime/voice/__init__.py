"""Blu's voice: a LiveKit Agents worker whose LLM is the runtime's own Claude session (its own process)."""

"""Blu's monthly cost, estimated from the synthesized templates (``make cost``)."""

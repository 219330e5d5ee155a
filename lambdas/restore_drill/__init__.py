"""The monthly restore drill: restore the newest snapshot into scratch space and verify it against its manifest."""

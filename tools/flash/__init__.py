"""Release bundles and flashing of boards (A/B slots, health check, rollback)."""

"""API keys, roles, the principal dependency and tenant checks (SPEC §4)."""

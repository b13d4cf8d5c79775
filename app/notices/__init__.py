"""Notices (SPEC §8.4): every message that carries a duty to inform a client, and the one rule
of when it counts as received."""

"""Written processing instructions (seed §2.2)."""

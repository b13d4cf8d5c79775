"""Written processing instructions (seed §2.2), security exceptions (§2.3) and data-subject
request tasks (§2.5)."""

"""Data-subject requests (seed §2.5): a client orders SCR to act on a person's data by a date;
SCR staff are reminded before it, both sides are told when it passes, and completion carries
evidence."""

"""Personal data breaches (seed §2.6, GDPR Art. 33): notified to every affected client at once,
with the 72-hour timer per client: reminders, escalation, the deadline."""

"""dpa-service: a data processor's system of record for its GDPR Art. 28 obligations."""

"""Sub-processors (seed §2.8-2.9, GDPR Art. 28(2), 28(4), 44-46): the registry, change notices
with the clients' right to object, and the third-country transfer guard."""

"""Events and webhook delivery (SPEC §9): the transactional outbox, Standard Webhooks signing,
durable retries, the timers other domains use, and the pump that sends and fires them."""

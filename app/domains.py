"""The domains' wiring into the events engine (timer handlers, delivery hooks), loaded by
every process that runs a worker."""

import app.audits.flows
import app.breaches.flows
import app.notices.flows
import app.security_exceptions.flows
import app.subject_requests.flows
import app.subprocessors.flows  # noqa: F401

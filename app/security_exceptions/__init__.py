"""Written exceptions to the agreed security measures (seed §2.3): requested by a client with
their nature, duration and impact analysis; approved or rejected by SCR staff; ended on time."""

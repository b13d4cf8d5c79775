"""Clients (the controllers SCR processes data for) and their contacts, DPO history included."""

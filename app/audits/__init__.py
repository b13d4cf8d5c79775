"""Audit requests (seed §2.5): 30 working days' notice, emergencies by mutual agreement or a
judge's order, pen-tests only under a tripartite agreement."""

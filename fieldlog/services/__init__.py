"""Services: take a session, the acting user and the clock; flush, never commit.

The edge (a view, a command, a job) owns the transaction (docs/architecture.md).
"""

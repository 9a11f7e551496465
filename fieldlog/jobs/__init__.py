"""Every thread and queue: the import runner, the weekly scheduler, the RQ fan-out.

A job owns its transaction, as a view or a command does (docs/architecture.md).
"""

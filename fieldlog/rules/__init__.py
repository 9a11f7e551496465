"""Pure rules: no Session, no Flask app — periods, text folding, limits, the KPI catalogue,
the entry rule and the visit cycle.

Each module here imports only the standard library and other modules of this folder
(docs/architecture.md); the limits' error messages are worded in ``present/limit_messages``.
"""

"""Pure rules: no Session, no Flask app — periods, text folding, limits, the KPI catalogue,
the entry rule, the visit cycle and a proposal open at a day.

Each module here imports only the standard library and other modules of this folder
(docs/architecture.md); the limits' error messages are worded in ``present/limit_messages``.
"""

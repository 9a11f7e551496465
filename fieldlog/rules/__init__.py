"""Pure rules: no Session, no Flask app — periods, text folding, limits, the KPI catalogue.

Each module here imports only the standard library and other modules of this folder
(docs/architecture.md); ``limits`` words its messages with ``lazy_gettext``, which needs no app.
"""

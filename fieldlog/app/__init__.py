"""Plumbing: configuration, extensions, the database engine, logs, gunicorn, the API description."""

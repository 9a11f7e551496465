"""Errors raised by services; the web layer turns each into one JSON or form answer."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """A refusal with a stable error code and an HTTP status (each kind below sets both).

    ``errors`` holds field errors, keyed by field name (nested fields with dots:
    ``proposal.amount``); the message defaults to the code.
    """

    code: str
    status: int

    def __init__(self, message: Any = "", errors: dict[str, list[Any]] | None = None):
        super().__init__(str(message) if message else self.code)
        self.message = message
        self.errors = errors or {}


class Invalid(ServiceError):
    code = "invalid"
    status = 422


class Forbidden(ServiceError):
    code = "forbidden"
    status = 403


class NotFound(ServiceError):
    code = "not_found"
    status = 404


class ClientIdReused(ServiceError):
    code = "client_id_reused"
    status = 422


class InProgress(ServiceError):
    code = "in_progress"
    status = 409

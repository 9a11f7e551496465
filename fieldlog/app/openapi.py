"""OpenAPI 3.1 description of the JSON API (docs/contract.md), served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

_DATE = {"type": "string", "format": "date"}
_TEXT = {"type": ["string", "null"], "maxLength": 2000}
_ID = {"type": "integer", "minimum": 1}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


_ERRORS = {
    "400": _error("csrf_failed: missing or bad X-CSRFToken header"),
    "401": _error("unauthorized: not logged in"),
    "403": _error("forbidden: outside the user's branch or role"),
    "404": _error("not_found: no such object in the user's scope"),
    "409": _error("in_progress: the same client_id is still being processed"),
    "422": _error("invalid or client_id_reused"),
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "string",
                "enum": [
                    "unauthorized",
                    "csrf_failed",
                    "forbidden",
                    "not_found",
                    "invalid",
                    "client_id_reused",
                    "in_progress",
                    "too_large",
                    "http_error",
                    "server_error",
                ],
            },
            "message": {"type": "string"},
            "errors": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
    "VisitIn": {
        "type": "object",
        "required": ["client_id", "customer_code", "visited_at", "purpose", "hearing_done"],
        "properties": {
            "client_id": {"type": "string", "format": "uuid"},
            "customer_code": {"type": "string"},
            "visited_at": {"type": "string", "format": "date-time"},
            "purpose": {"type": "string"},
            "purpose_note": _TEXT,
            "hearing_done": {"type": "boolean"},
            "hearing_note": _TEXT,
            "note": _TEXT,
            "proposal": {
                "type": ["object", "null"],
                "properties": {
                    "category": {"type": ["string", "null"]},
                    "kind": {"enum": ["upsell", "cross_sell", "other", None]},
                    "amount": {"type": ["integer", "null"], "minimum": 0},
                    "note": _TEXT,
                },
            },
            "next_action": {
                "type": ["object", "null"],
                "required": ["action", "due_on"],
                "properties": {"action": {"type": "string", "minLength": 1}, "due_on": _DATE},
            },
            "completes_follow_ups": {"type": ["array", "null"], "items": _ID},
            "saved_at": {
                "type": ["string", "null"],
                "description": "When the phone saved the entry (ISO 8601 with offset). Kept when "
                "valid, trusted only between visited_at and the server's receipt; never refused.",
            },
            "late_reason": _TEXT,
        },
    },
    "Proposal": {
        "type": "object",
        "required": ["id", "kind", "status", "proposed_on"],
        "properties": {
            "id": _ID,
            "visit_id": {"type": ["integer", "null"]},
            "customer_code": {"type": "string"},
            "category": {"type": ["string", "null"]},
            "kind": {"enum": ["upsell", "cross_sell", "other"]},
            "amount": {"type": ["integer", "null"]},
            "note": {"type": "string"},
            "proposed_on": _DATE,
            "status": {"enum": ["open", "won", "lost"]},
            "closed_on": {"type": ["string", "null"], "format": "date"},
        },
    },
    "FollowUp": {
        "type": "object",
        "required": ["id", "action", "due_on"],
        "properties": {
            "id": _ID,
            "visit_id": {"type": ["integer", "null"]},
            "customer_code": {"type": "string"},
            "action": {"type": "string"},
            "due_on": _DATE,
            "done_on": {"type": ["string", "null"], "format": "date"},
            "cancelled": {"type": "boolean"},
        },
    },
    "Visit": {
        "type": "object",
        "required": ["id", "client_id", "customer_code", "visited_at", "purpose", "hearing_done"],
        "properties": {
            "id": _ID,
            "client_id": {"type": "string"},
            "customer_code": {"type": "string"},
            "customer_name": {"type": "string"},
            "rep": {"type": "string"},
            "branch": {"type": "string"},
            "visited_at": {"type": "string", "format": "date-time"},
            "purpose": {"type": "string"},
            "purposeful": {"type": "boolean"},
            "purpose_note": {"type": "string"},
            "hearing_done": {"type": "boolean"},
            "hearing_note": {"type": "string"},
            "note": {"type": "string"},
            "proposal": {"oneOf": [{"$ref": "#/components/schemas/Proposal"}, {"type": "null"}]},
            "follow_up": {"oneOf": [{"$ref": "#/components/schemas/FollowUp"}, {"type": "null"}]},
            "completed_follow_ups": {"type": "array", "items": {"type": "integer"}},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "source": {"enum": ["app", "import"]},
            "saved_at": {"type": ["string", "null"], "format": "date-time"},
            "entered_at": {"type": "string", "format": "date-time"},
            "late_reason": {"type": "string"},
        },
    },
    "Session": {
        "type": "object",
        "required": ["user", "csrf_token"],
        "properties": {
            "user": {
                "type": "object",
                "required": ["email", "name", "role", "branch"],
                "properties": {
                    "email": {"type": "string"},
                    "name": {"type": "string"},
                    "role": {"enum": ["rep", "manager", "owner"]},
                    "branch": {"type": ["string", "null"]},
                },
            },
            "csrf_token": {"type": "string"},
        },
    },
    "PlanItem": {
        "type": "object",
        "required": [
            "customer_code",
            "customer_name",
            "reasons",
            "suggested_purpose",
            "suggestion",
        ],
        "properties": {
            "customer_code": {"type": "string"},
            "customer_name": {"type": "string"},
            "visited": {
                "type": "boolean",
                "description": "a visit to the customer is logged on the plan's date",
            },
            "reasons": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "detail"],
                    "properties": {
                        "code": {
                            "enum": [
                                "follow_up_due",
                                "overdue_cycle",
                                "dormant_risk",
                                "open_proposal",
                                "cross_sell",
                                "planned",
                            ]
                        },
                        "detail": {"type": "string"},
                    },
                },
            },
            "suggested_purpose": {"type": ["string", "null"]},
            "suggestion": {"type": "string"},
        },
    },
    "Plan": {
        "type": "object",
        "required": ["date", "items"],
        "properties": {
            "date": _DATE,
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/PlanItem"}},
        },
    },
    "OfflineData": {
        "type": "object",
        "required": ["user", "customers", "purposes", "categories", "plan"],
        "properties": {
            "user": {"type": "string", "description": "the user's email"},
            "customers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "code",
                        "name",
                        "name_kana",
                        "search",
                        "rank",
                        "visit_cycle_days",
                        "own",
                        "open_follow_ups",
                    ],
                    "properties": {
                        "code": {"type": "string"},
                        "name": {"type": "string"},
                        "name_kana": {"type": "string"},
                        "search": {"type": "string", "description": "the normalised search key"},
                        "rank": {"enum": ["A", "B", "C"]},
                        "visit_cycle_days": {"type": "integer"},
                        "own": {"type": "boolean", "description": "the user is its rep"},
                        "open_follow_ups": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id", "action", "due_on"],
                                "properties": {
                                    "id": _ID,
                                    "action": {"type": "string"},
                                    "due_on": _DATE,
                                },
                            },
                        },
                    },
                },
            },
            "purposes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "label_ja", "label_en", "purposeful"],
                    "properties": {
                        "code": {"type": "string"},
                        "label_ja": {"type": "string"},
                        "label_en": {"type": "string"},
                        "purposeful": {"type": "boolean"},
                    },
                },
            },
            "categories": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["code", "name"],
                    "properties": {"code": {"type": "string"}, "name": {"type": "string"}},
                },
            },
            "plan": {"$ref": "#/components/schemas/Plan"},
        },
    },
    "PlannedItem": {
        "allOf": [
            {"$ref": "#/components/schemas/PlanItem"},
            {
                "type": "object",
                "required": ["date", "purpose", "note"],
                "properties": {
                    "date": _DATE,
                    "purpose": {"type": ["string", "null"]},
                    "note": {"type": "string"},
                },
            },
        ]
    },
}


def _json(ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _pick(*codes: str) -> dict[str, Any]:
    return {code: _ERRORS[code] for code in codes}


def document() -> dict[str, Any]:
    """The API description; kept beside the handlers' contract and checked by a fuzz test."""
    id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "FieldLog API", "version": "1"},
        "servers": [{"url": "/"}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRFToken"},
            },
        },
        "paths": {
            "/api/v1/session": {
                "get": {
                    "summary": "The logged-in user and a fresh CSRF token",
                    "security": [{"session": []}],
                    "responses": {"200": _json("Session", "logged in"), **_pick("401")},
                }
            },
            "/api/v1/visits": {
                "post": {
                    "summary": "Record a visit once per client_id",
                    "security": [{"session": [], "csrf": []}],
                    "requestBody": _body({"$ref": "#/components/schemas/VisitIn"}),
                    "responses": {
                        "201": _json("Visit", "created"),
                        "200": _json("Visit", "a replay of the same payload"),
                        **_pick("400", "401", "403", "409", "422"),
                    },
                }
            },
            "/api/v1/follow-ups/{id}/done": {
                "post": {
                    "summary": "Mark a follow-up done (repeatable; the last call wins)",
                    "security": [{"session": [], "csrf": []}],
                    "parameters": [id_param],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["done_on"],
                            "properties": {"done_on": _DATE},
                        }
                    ),
                    "responses": {
                        "200": _json("FollowUp", "done"),
                        **_pick("400", "401", "404", "422"),
                    },
                }
            },
            "/api/v1/follow-ups/{id}/reschedule": {
                "post": {
                    "summary": "Move an open follow-up to another day (not before its visit)",
                    "security": [{"session": [], "csrf": []}],
                    "parameters": [id_param],
                    "requestBody": _body(
                        {"type": "object", "required": ["due_on"], "properties": {"due_on": _DATE}}
                    ),
                    "responses": {
                        "200": _json("FollowUp", "rescheduled"),
                        **_pick("400", "401", "404", "422"),
                    },
                }
            },
            "/api/v1/follow-ups/{id}/cancel": {
                "post": {
                    "summary": "Cancel an open follow-up (again: harmless; a done one: 422)",
                    "security": [{"session": [], "csrf": []}],
                    "parameters": [id_param],
                    "responses": {
                        "200": _json("FollowUp", "cancelled"),
                        **_pick("400", "401", "404", "422"),
                    },
                }
            },
            "/api/v1/plan": {
                "get": {
                    "summary": "The user's customers worth a visit on a date, most urgent first",
                    "security": [{"session": []}],
                    "parameters": [
                        {
                            "name": "date",
                            "in": "query",
                            "required": False,
                            "description": "default today (company time); within a year",
                            "schema": _DATE,
                        }
                    ],
                    "responses": {"200": _json("Plan", "the plan"), **_pick("401", "422")},
                },
                "post": {
                    "summary": "Plan a visit to a customer on a date (again: the same plan)",
                    "description": "Only the user's own customers: an unknown code, one of "
                    "another branch or a colleague's customer is 404 not_found.",
                    "security": [{"session": [], "csrf": []}],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["date", "customer_code"],
                            "properties": {
                                "date": _DATE,
                                "customer_code": {"type": "string"},
                                "purpose": {"type": ["string", "null"]},
                                "note": _TEXT,
                            },
                        }
                    ),
                    "responses": {
                        "201": _json("PlannedItem", "planned"),
                        "200": _json("PlannedItem", "already planned: the same item"),
                        **_pick("400", "401", "404", "422"),
                    },
                },
            },
            "/api/v1/offline-data": {
                "get": {
                    "summary": "What a phone keeps to work offline: customers with their open "
                    "follow-ups, purposes, categories and today's plan",
                    "security": [{"session": []}],
                    "responses": {
                        "200": _json("OfflineData", "the offline data"),
                        **_pick("401"),
                    },
                }
            },
            "/api/v1/proposals/{id}/close": {
                "post": {
                    "summary": "Close a proposal as won or lost (the last call wins)",
                    "security": [{"session": [], "csrf": []}],
                    "parameters": [id_param],
                    "requestBody": _body(
                        {
                            "type": "object",
                            "required": ["status", "closed_on"],
                            "properties": {"status": {"enum": ["won", "lost"]}, "closed_on": _DATE},
                        }
                    ),
                    "responses": {
                        "200": _json("Proposal", "closed"),
                        **_pick("400", "401", "404", "422"),
                    },
                }
            },
        },
    }

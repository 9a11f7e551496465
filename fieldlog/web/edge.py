"""Where request input enters: text cleaned, JSON bounded, ids in range, before any view runs.

The rules themselves live in fieldlog/rules/limits.py (docs/limits.md); this module applies them
to every query string, form and JSON body, so no view can forget to.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request
from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import IntegerConverter
from werkzeug.utils import cached_property

from ..rules import limits


def _cleaned(values: ImmutableMultiDict[str, str]) -> ImmutableMultiDict[str, str]:
    clean = limits.clean_text
    return ImmutableMultiDict((clean(k), clean(v)) for k, v in values.items(multi=True))


class CleanRequest(Request):
    """A request whose query string and form carry no NUL, control character or lone surrogate."""

    @cached_property
    def args(self) -> ImmutableMultiDict[str, str]:  # type: ignore[override]
        return _cleaned(super().args)

    def _load_form_data(self) -> None:
        super()._load_form_data()
        self.__dict__["form"] = _cleaned(self.__dict__["form"])

    @property
    def max_content_length(self) -> int | None:  # type: ignore[override]
        """MAX_CONTENT_LENGTH, or for a JSON or url-encoded form body (no files) at most
        limits.MAX_BODY_BYTES: a larger one is refused unread with 413, not parsed into memory
        and then found invalid (422). Werkzeug bounds only multipart fields in memory."""
        limit = super().max_content_length
        small = self.is_json or self.mimetype == "application/x-www-form-urlencoded"
        if self._max_content_length is None and small:
            return limits.MAX_BODY_BYTES if limit is None else min(limit, limits.MAX_BODY_BYTES)
        return limit

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


class BoundedJSONProvider(DefaultJSONProvider):
    """JSON bodies within limits.MAX_JSON_DEPTH and MAX_JSON_ITEMS, strings cleaned.

    A ValueError here becomes the caller's 400 (or, with silent=True, an absent body: 422).
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            value = super().loads(s, **kwargs)
        except RecursionError:
            raise limits.JsonTooDeep("JSON nested too deeply") from None
        return limits.check_json(value)


class IdConverter(IntegerConverter):
    """<int:…> in URLs only up to limits.MAX_ID: a larger id cannot exist, so it is a 404."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", limits.MAX_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Install the clean request, the bounded JSON parser and the bounded id converter."""
    app.request_class = CleanRequest
    app.json = BoundedJSONProvider(app)
    app.url_map.converters["int"] = IdConverter

"""Gzip for text answers: pages, the stylesheet, scripts and JSON leave the server compressed.

gunicorn does not compress, and a phone on a weak signal waits for every byte. Generated
streams (exports) are left alone: they are large, go to a file and must not be read whole.
"""

from __future__ import annotations

import gzip

from flask import Flask, request
from werkzeug.wrappers import Response

TEXT_TYPES = frozenset(
    {
        "text/html",
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/manifest+json",
        "image/svg+xml",
    }
)
MIN_BYTES = 1024  # below a packet or two, gzip saves nothing worth its header
MAX_FILE_BYTES = 2 << 20
LEVEL = 6


def _compressible(response: Response) -> bool:
    if response.status_code != 200 or response.mimetype not in TEXT_TYPES:
        return False
    if "Content-Encoding" in response.headers or request.method == "HEAD":
        return False
    if response.is_streamed and not response.direct_passthrough:
        return False  # a generator: an export, never read whole
    length = response.content_length
    return length is None or MIN_BYTES <= length <= MAX_FILE_BYTES


def compress(response: Response) -> Response:
    """Gzip a text answer when the client accepts it; caches keep one copy per encoding."""
    if not _compressible(response):
        return response
    response.vary.add("Accept-Encoding")
    if not request.accept_encodings["gzip"]:
        return response
    source = response.response
    response.direct_passthrough = False  # a static file: read it whole to compress it
    body = response.get_data()
    if hasattr(source, "close"):
        source.close()  # the file the body was read from
    if len(body) < MIN_BYTES:
        return response
    response.set_data(gzip.compress(body, compresslevel=LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag and not weak:
        # Same content, other bytes: a weak tag still answers If-None-Match with a 304.
        response.set_etag(etag, weak=True)
    return response


def init_app(app: Flask) -> None:
    app.after_request(compress)

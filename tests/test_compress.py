"""Text answers leave the server gzipped when the client accepts it; others are left alone."""

from __future__ import annotations

import gzip
import re

GZIP = {"Accept-Encoding": "gzip, deflate"}


def test_pages_are_gzipped_for_clients_that_accept_it(client):
    plain = client.get("/login")
    packed = client.get("/login", headers=GZIP)
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    # The pages differ only in the CSRF token, which is signed with the time of the request.
    token = re.compile(rb'(?<=name="csrf_token")([^>]*value=")[^"]+')
    unpacked = gzip.decompress(packed.get_data())
    assert token.sub(rb"\1", unpacked) == token.sub(rb"\1", plain.get_data())
    assert token.search(unpacked)
    assert int(packed.headers["Content-Length"]) < len(plain.get_data()) / 2


def test_static_files_are_gzipped_and_still_revalidate(client):
    first = client.get("/static/css/app.css", headers=GZIP)
    body = gzip.decompress(first.get_data())
    first.close()
    assert first.headers["Content-Encoding"] == "gzip"
    assert b"FieldLog" in body
    etag = first.headers["ETag"]
    assert etag.startswith('W/"')
    again = client.get("/static/css/app.css", headers={**GZIP, "If-None-Match": etag})
    again.close()
    assert again.status_code == 304


def test_small_binary_and_partial_answers_are_left_alone(client):
    assert "Content-Encoding" not in client.get("/healthz", headers=GZIP).headers  # tiny JSON
    icon = client.get("/static/icons/icon-192.png", headers=GZIP)
    icon.close()
    assert "Content-Encoding" not in icon.headers
    part = client.get("/static/css/app.css", headers={**GZIP, "Range": "bytes=0-99"})
    part.close()
    assert part.status_code == 206
    assert "Content-Encoding" not in part.headers

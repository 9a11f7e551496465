"""A translated message with a user's input in it is escaped like any other text.

flask_babel's lazy strings declare themselves markup (``__html__`` gives their text as it is),
so Jinja's autoescape let the input inside one through as HTML (docs/decisions.md,
"Escaping: translated messages are text")."""

from __future__ import annotations

from flask import render_template_string
from flask_babel import lazy_gettext as _l

from tests.test_io_web import site, upload  # noqa: F401 (the fixture)

HOSTILE = "<img src=x onerror=alert(1)>"


def test_a_lazy_message_renders_its_input_escaped(app):
    with app.test_request_context():
        html = render_template_string(
            "{{ m }}", m=_l("Unknown branch code %(code)s.", code=HOSTILE)
        )
    assert HOSTILE not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_an_import_report_shows_a_hostile_cell_as_text(site, client, auth):  # noqa: F811
    auth.login(site["owner"])
    bad = f"code,name,branch\n1,ok,{HOSTILE}\n".encode()
    response = upload(client, "customers", bad)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert HOSTILE not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page

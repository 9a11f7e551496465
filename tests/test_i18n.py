"""Both locales render, and every user-visible string has a Japanese translation."""

from __future__ import annotations

from babel.messages.pofile import read_po

from fieldlog.app.untranslated import CATALOGUE, duplicate_msgids, missing_translations


def test_every_string_has_a_japanese_translation():
    missing = missing_translations()
    assert missing == [], "add these to messages.po (flask i18n missing):\n" + "\n".join(missing)


def test_no_msgid_is_translated_twice():
    # Branches append to the catalogue and merge by union: a second entry silently shadows one.
    assert duplicate_msgids() == []


def test_the_catalogue_compiles_without_errors():
    # `pybabel compile` (.ci/setup) reports a msgid that reads as a format (as "80% interval",
    # where "% i" is one) whose translation has other placeholders.
    with CATALOGUE.open("rb") as handle:
        errors = [(m.id, [str(e) for e in found]) for m, found in read_po(handle).check()]
    assert errors == []


def test_login_page_renders_in_japanese_by_default_and_in_english_on_request(client):
    japanese = client.get("/login").get_data(as_text=True)
    assert 'lang="ja"' in japanese and "ログイン" in japanese
    token = japanese.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/locale", data={"lang": "en", "next": "/login", "csrf_token": token})
    english = client.get("/login").get_data(as_text=True)
    assert 'lang="en"' in english and "Log in" in english and "ログイン" not in english

"""The installable app: manifest, service worker, offline and outbox pages."""

from __future__ import annotations

import hashlib
import weakref
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, render_template, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..present import words

bp = Blueprint("pwa", __name__)

SHELL_ASSETS = (
    "css/app.css",
    "js/app.mjs",
    "js/outbox-core.mjs",
    "js/outbox-store.mjs",
    "js/sync.mjs",
    "js/outbox-page.mjs",
    "js/visit-offline.mjs",
    "js/quick-actions.mjs",
    "js/visit-form.js",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "icons/icon-maskable-512.png",
    "icons/apple-touch-icon.png",
    "icons/favicon-32.png",
)
SHELL_PAGES = ("field.today", "field.new_visit", "pwa.outbox", "pwa.offline")


def asset_version() -> str:
    """A digest of the shell's files: a new deployment installs a new service worker."""
    cached = current_app.extensions.get("fieldlog_asset_version")
    if cached:
        return cached
    digest = hashlib.sha256()
    static = Path(current_app.static_folder or "")
    for name in SHELL_ASSETS:
        path = static / name
        if path.exists():
            digest.update(path.read_bytes())
    template = Path(current_app.template_folder or "") / "pwa" / "sw.js"
    digest.update(template.read_bytes())
    version = digest.hexdigest()[:12]
    current_app.extensions["fieldlog_asset_version"] = version
    return version


@bp.get("/sw.js")
def service_worker():
    pages = [url_for(e) for e in SHELL_PAGES if e in current_app.view_functions]
    body = render_template(
        "pwa/sw.js",
        version=asset_version(),
        assets=[url_for("static", filename=name) for name in SHELL_ASSETS],
        pages=pages,
        offline_url=url_for("pwa.offline"),
    )
    response = Response(body, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    icon = lambda name, size, purpose="any": {  # noqa: E731
        "src": url_for("static", filename=f"icons/{name}"),
        "sizes": size,
        "type": "image/png",
        "purpose": purpose,
    }
    document = {
        "name": _("FieldLog — visit log and weekly KPIs"),
        "short_name": "FieldLog",
        "lang": "ja",
        "start_url": "/?source=pwa",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#f4f6f8",
        "theme_color": "#1f4e79",
        "description": _("Log each customer visit in ten seconds, even offline."),
        "icons": [
            icon("icon-192.png", "192x192"),
            icon("icon-512.png", "512x512"),
            icon("icon-maskable-512.png", "512x512", "maskable"),
        ],
    }
    response = current_app.response_class(
        current_app.json.dumps(document), mimetype="application/manifest+json"
    )
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/offline")
def offline():
    return render_template("pwa/offline.html")


@bp.get("/outbox")
@login_required
def outbox():
    return render_template("pwa/outbox.html")


# The scripts' strings per translations object (one per locale and app, loaded once): every
# page embeds them, and saying ~50 strings through Flask-Babel cost ~1 ms a page. Weak keys:
# an app that goes (tests make hundreds) takes its entries with it.
_SAID: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


@bp.app_context_processor
def js_strings() -> dict[str, object]:
    """Strings the scripts show, translated here: JS never hard-codes user-visible text."""

    def strings() -> dict[str, str]:
        translations = words.translations()
        said = _SAID.get(translations)
        if said is None:
            said = _SAID[translations] = _script_strings()
        return said

    return {"js_strings": strings}


def _script_strings() -> dict[str, str]:
    """The scripts' strings in the current locale."""
    return {
        "pending": _("{n} waiting to sync"),
        "needs_attention": _("{n} need your attention"),
        "saved_offline": _("Saved — will sync when online."),
        "saved_synced": _("Saved and synced."),
        "saved_sending": _("Saved on this phone; sending…"),
        "server_retry": _(
            "Saved on this phone, but the server answered with an error. It will try again, "
            "then ask you to fix or discard it."
        ),
        "needs_fix": _("Not saved: open the outbox to fix or discard it."),
        "retry": _("Try again"),
        "moved_to": _("Due date moved to {date}."),
        "still_offline": _(
            "No connection: what is waiting stays on this phone until you are online."
        ),
        "discard_confirm": _("Discard this entry? It will not be sent."),
        "empty": _("Nothing waiting. Every entry has been sent."),
        "kind_visit": _("Visit"),
        "kind_follow_up_done": _("Follow-up done"),
        "kind_proposal_close": _("Proposal result"),
        "kind_follow_up_reschedule": _("Follow-up moved"),
        "kind_follow_up_cancel": _("Follow-up cancelled"),
        "cancelled": _("Cancelled."),
        # What a one-tap row says once the server has it: what was recorded, not only "synced".
        "marked_done": _("Marked done."),
        "recorded_won": _("Recorded as won."),
        "recorded_lost": _("Recorded as lost."),
        "draft_restored": _("The visit you had not saved was restored."),
        "fix": _("Fix"),
        "discard": _("Discard"),
        "waiting": _("Waiting to sync"),
        "attention": _("Needs attention"),
        "attempts": _("Attempts"),
        "no_results": _("No customer found."),
        "open_follow_ups": _("Open follow-ups: tick what this visit completed"),
        # Checked on the phone before a visit is queued, with record_visit's own messages.
        "need.customer_code": _("Choose a customer."),
        "need.purpose": _("Choose the purpose of the visit."),
        "need.hearing_done": _(
            "Say whether problems or needs were heard: yes (true) or no (false)."
        ),
        "need.due_on": _("The next action cannot be due before the visit."),
        "need.action": _("Write or choose the next action, or clear its date."),
        "need.due_date": _("Choose by when, or clear the next action."),
        # The outbox names a rejected entry's fields as the form does, not by their API keys.
        "field.customer_code": _("Customer"),
        "field.visited_at": _("Visit time"),
        "field.purpose": _("Purpose"),
        "field.purpose_note": _("Note on the purpose"),
        "field.hearing_done": _("Hearing"),
        "field.hearing_note": _("What you heard"),
        "field.note": _("Note"),
        "field.proposal.category": _("Category"),
        "field.proposal.kind": _("Kind"),
        "field.proposal.amount": _("Amount (yen, optional)"),
        "field.proposal.note": _("Proposal note (optional)"),
        "field.next_action.action": _("Next action"),
        "field.next_action.due_on": _("Due date"),
        "field.completes_follow_ups": _("Follow-ups"),
    }

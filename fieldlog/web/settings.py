"""Settings: the active KPIs and their "why", targets, dormancy and visit-cycle thresholds.

Every rule lives in ``fieldlog.kpi.choices`` / ``fieldlog.kpi.targets``; these views only parse,
call, commit and render.
"""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from ..app.extensions import db
from ..jobs import lead_ranking
from ..kpi import CATALOGUE, KGI_KEYS, KPI_KEYS, Scope, parse_scope, scope_label
from ..kpi import budgets as kpi_budgets
from ..kpi import choices as kpi_choices
from ..kpi import ranking as kpi_ranking
from ..kpi.targets import set_target, target_history
from ..rules import limits
from ..rules.periods import Period
from ..services import access, audit, directory
from ..services.defaults import company_settings
from ..services.errors import Invalid
from .common import company_tz, local_today, roles_required
from .kpi_view import HELPERS
from .transaction import unit_of_work

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.context_processor
def _helpers() -> dict:
    return HELPERS


def _render(template: str, errors: dict, **context):
    return render_template(template, errors=errors, **context), (422 if errors else 200)


@bp.route("/kpis", methods=["GET", "POST"])
@roles_required("owner")
def kpis():
    """Choose the 3–5 active KPIs and write the company's own "why" for each."""
    errors: dict = {}
    settings = company_settings(db.session)
    if request.method == "POST":
        chosen = [k for k in request.form.getlist("active") if k]
        texts = {key: request.form.get(f"why-{key}", "") for key in KPI_KEYS}
        try:
            with unit_of_work():
                kpi_choices.set_kpi_why(db.session, texts)
                kpi_choices.set_active_kpis(db.session, chosen, user=current_user)
        except Invalid as error:
            errors = error.errors
        else:
            flash(_("The KPI settings were saved."), "success")
            return redirect(url_for(".kpis"))
    own = settings.kpi_why or {}
    return _render(
        "settings/kpis.html",
        errors,
        keys=[k for k in KPI_KEYS if k not in KGI_KEYS],
        catalogue=CATALOGUE,
        active=request.form.getlist("active") if errors else kpi_choices.active_kpis(settings),
        own_why={k: request.form.get(f"why-{k}", "") for k in KPI_KEYS} if errors else own,
        lint=kpi_choices.lint_settings(settings, str(get_locale())),
        **_ranking_context(),
    )


def _ranking_context() -> dict:
    """The evidence panel: the kept ranking (its job started in the background if missing)."""
    until = kpi_ranking.last_complete_week(local_today())
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ranking = lead_ranking.ranking_for_page(app, db.session, until, tz=company_tz())
    scopes = [("company", _("Whole company"))] + [
        (key, f"{code} {name}") for key, code, name in kpi_ranking.ranking_branches(db.session)
    ]
    chosen = request.args.get("lead", "company")
    scope = chosen if chosen in dict(scopes) else "company"
    return {
        "ranking": ranking,
        "scopes": scopes,
        "scope": scope,
        "scope_label": dict(scopes)[scope],
        "placed": kpi_ranking.placed(ranking, scope),
        "branch_count": len(scopes) - 1,
        "active_now": kpi_choices.active_kpis(company_settings(db.session)),
    }


@bp.get("/kpis/ranking")
@roles_required("owner")
def ranking_panel():
    """The evidence panel alone, for the page's script to swap in when the job is done."""
    return render_template("settings/_lead_ranking.html", **_ranking_context())


@bp.get("/kpis/ranking/status")
@roles_required("owner")
def ranking_status():
    until = kpi_ranking.last_complete_week(local_today())
    ranking = kpi_ranking.ranking_view(db.session, until)
    return jsonify({"state": ranking.state, "done": ranking.done, "total": ranking.total})


def _scopes() -> list[tuple[str, str]]:
    """Target scopes one may choose: the owner the company, each branch, each rep or manager;
    a manager their own branch and its people."""
    choices = [("company", _("Whole company"))] if access.is_owner(current_user) else []
    branches = directory.visible_branches(db.session, current_user)
    choices += [(f"branch:{b.code}", b.name) for b in branches]
    choices += [
        (f"rep:{u.email}", f"{u.name} ({u.branch.name if u.branch else ''})")
        for u in directory.people(db.session, current_user)
    ]
    return choices


@bp.route("/targets", methods=["GET", "POST"])
@roles_required("owner", "manager")
def targets():
    """Add a target per KPI, scope, week or month, effective from a date; earlier ones stay.

    Managers set the targets of their own branch and its reps (docs/contract.md); the company's and
    other branches' are the owner's.
    """
    errors: dict = {}
    scopes = _scopes()
    form = {
        "period_kind": "week",
        "scope": scopes[0][0] if scopes else "",
        "effective_from": local_today().isoformat(),
    }
    if request.method == "POST":
        form = request.form.to_dict()
        try:
            scope = parse_scope(db.session, form.get("scope", ""))
        except ValueError:
            errors["scope"] = [_("Choose a scope from the list.")]
        else:
            if not access.may_set_target(db.session, current_user, scope.kind, scope.id):
                errors["scope"] = [_("You can set targets for your own branch and its people.")]
        try:
            effective = date.fromisoformat(form.get("effective_from", "").strip())
        except ValueError:
            effective = None
        if not errors:
            try:
                with unit_of_work():
                    set_target(
                        db.session,
                        form.get("kpi", ""),
                        scope,
                        form.get("period_kind", ""),
                        form.get("value", "").strip(),  # type: ignore[arg-type]
                        effective,  # type: ignore[arg-type]
                        current_user,
                        today=local_today(),
                    )
            except Invalid as error:
                errors = error.errors
            else:
                flash(_("The target was saved."), "success")
                return redirect(url_for(".targets"))
    return _targets_page(errors, form)


def _targets_page(errors: dict, form: dict, budget_errors: dict | None = None, budget_form=None):
    history = [
        t for t in target_history(db.session) if access.sees_target(db.session, current_user, t)
    ]
    this_month = kpi_budgets.month_start(local_today())
    months = [Period.month_of(this_month).shift(i).start for i in range(-1, 4)]
    branch_id = None if access.is_owner(current_user) else current_user.branch_id
    budget_changes = kpi_budgets.budget_changes(db.session, branch_id)
    body = render_template(
        "settings/targets.html",
        errors=errors,
        form=form,
        keys=[k for k in KPI_KEYS if CATALOGUE[k].direction is not None],
        scopes=_scopes(),
        history=history,
        labels={t.id: _target_scope(t) for t in history},
        budget_form=budget_form
        or {"month": f"{this_month:%Y-%m}", "branch": "", "rep": "", "amount": ""},
        budget_errors=budget_errors or {},
        budgets=kpi_budgets.budget_table(db.session, months, branch_id),
        budget_changes=budget_changes,
        budget_change_names=audit.named_people(db.session, budget_changes),
        budget_branches=directory.visible_branches(db.session, current_user),
        budget_reps=directory.people(db.session, current_user),
    )
    return body, (422 if errors or budget_errors else 200)


@bp.post("/budgets")
@roles_required("owner")
def budgets():
    """Set one month's sales budget (予算) for a branch or one of its reps; changes are kept."""
    form = request.form.to_dict()
    errors: dict = {}
    try:
        month = Period.parse(form.get("month", "").strip())
        if month.kind != "month":
            raise ValueError
    except ValueError:
        errors["month"] = [_("Enter a month like 2026-11.")]
    branch = directory.visible_branch(db.session, current_user, form.get("branch", ""))
    if branch is None:
        errors["branch"] = [_("Choose a branch from the list.")]
    rep_id = None
    if form.get("rep"):
        person = directory.visible_person(db.session, current_user, form["rep"])
        if person is None:
            errors["rep"] = [_("Choose a rep from the list.")]
        else:
            rep_id = person.id
    if not errors:
        try:
            with unit_of_work():
                kpi_budgets.set_budget(
                    db.session, current_user, month.start, branch.id, rep_id, form.get("amount", "")
                )
        except Invalid as error:
            errors = error.errors
        else:
            flash(_("The budget was saved."), "success")
            return redirect(url_for(".targets") + "#budgets")
    form_defaults = {
        "period_kind": "week",
        "scope": "",
        "effective_from": local_today().isoformat(),
    }
    return _targets_page({}, form_defaults, errors, form)


def _target_scope(target) -> str:
    if target.scope_kind == "company":
        return _("Whole company")
    if target.scope_kind == "branch":
        scope = Scope.branch(target.branch_id)
    else:
        scope = Scope.rep(target.user_id)
    return scope_label(db.session, scope).partition(":")[2]


@bp.route("/thresholds", methods=["GET", "POST"])
@roles_required("owner")
def thresholds():
    """Dormancy, the default visit cycle per rank, and the data-health signals' thresholds."""
    errors: dict = {}
    settings = company_settings(db.session)
    form = {
        "dormant_visit_days": settings.dormant_visit_days,
        "dormant_sales_days": settings.dormant_sales_days,
        "cycle_days_a": settings.cycle_days_a,
        "cycle_days_b": settings.cycle_days_b,
        "cycle_days_c": settings.cycle_days_c,
        **{t.name: getattr(settings, t.name) for t in kpi_choices.HEALTH_THRESHOLDS},
    }
    if request.method == "POST":
        form = request.form.to_dict()
        # Every problem is shown at once: each setter runs, and none is kept if one refused.
        with unit_of_work() as work:
            for call in (
                lambda: kpi_choices.set_dormancy(
                    db.session,
                    form.get("dormant_visit_days"),
                    form.get("dormant_sales_days"),
                    user=current_user,
                ),
                lambda: kpi_choices.set_rank_cycles(
                    db.session,
                    form.get("cycle_days_a"),
                    form.get("cycle_days_b"),
                    form.get("cycle_days_c"),
                    user=current_user,
                ),
                lambda: kpi_choices.set_health_thresholds(db.session, form, user=current_user),
            ):
                try:
                    call()
                except Invalid as error:
                    errors.update(error.errors)
            if errors:
                work.discard()
        if not errors:
            flash(_("The thresholds were saved."), "success")
            return redirect(url_for(".thresholds"))
    return _render(
        "settings/thresholds.html",
        errors,
        form=form,
        health_thresholds=kpi_choices.HEALTH_THRESHOLDS,
    )


def _threshold_labels() -> dict[str, str]:
    """What each threshold is called on the thresholds page, for the history."""
    labels = {
        "dormant_visit_days": _("Days without a visit"),
        "dormant_sales_days": _("Days without sales"),
        **{t.name: str(t.label) for t in kpi_choices.HEALTH_THRESHOLDS},
    }
    for rank in ("a", "b", "c"):
        labels[f"cycle_days_{rank}"] = (
            _("Visit cycle by rank (days)") + " · " + _("Rank %(rank)s", rank=rank.upper())
        )
    return labels


@bp.get("/history")
@roles_required("owner", "manager")
def history():
    """Who changed which target, KPI set, threshold, budget or purpose flag, when, old → new.

    Owners see every change; managers their branch's and the company-wide ones (docs/contract.md).
    """
    page_number = limits.whole_number(request.args.get("page", "1"))
    if page_number is None or page_number < 0:
        abort(400)
    page = audit.history(db.session, current_user, page_number)
    return render_template(
        "settings/history.html",
        history=page,
        catalogue=CATALOGUE,
        thresholds=_threshold_labels(),
        purposes=directory.purpose_labels(db.session, str(get_locale())),
    )

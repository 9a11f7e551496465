"""Manager and owner pages: branch dashboard, owner summary, My week, weekly review, hypotheses."""

from __future__ import annotations

from typing import Any

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
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..app.extensions import db
from ..jobs import lead_ranking, warm
from ..kpi import did as kpi_did
from ..kpi import ranking as kpi_ranking
from ..kpi.choices import lint_settings, why_texts
from ..models import Branch, Hypothesis
from ..reports import data, mail_log
from ..rules import limits
from ..rules.periods import Period
from ..services import access, directory, hypotheses, planned_visits, reviews, week_gaps
from ..services.defaults import company_settings
from ..services.errors import Invalid
from .common import chosen_period, company_tz, local_today, roles_required
from .kpi_view import HELPERS
from .transaction import unit_of_work

bp = Blueprint("manage", __name__)
SUMMARY_WEEKS = 13


@bp.context_processor
def _helpers() -> dict:
    from ..kpi import KGI_KEYS, KPI_KEYS

    statuses = [
        ("testing", _("Testing")),
        ("supported", _("Supported")),
        ("rejected", _("Rejected")),
        ("revised", _("Revised")),
    ]
    return {
        **HELPERS,
        "kpi_choices": [k for k in KPI_KEYS if k not in KGI_KEYS],
        "statuses": statuses,
        "status_label": dict(statuses),
        "today": local_today(),  # the period picker offers no week that has not begun
    }


def _why() -> dict[str, str]:
    """Each KPI's "why" in the reader's language (the company's own text first)."""
    return why_texts(company_settings(db.session), str(get_locale()))


def _lint() -> list:
    """The KPI-set lint in the reader's language, for every page that shows the KPI set."""
    return lint_settings(company_settings(db.session), str(get_locale()))


def branch_or_404(code: str) -> Branch:
    """A branch the current user manages (owners: any), else 404."""
    branch = access.managed_branch(db.session, current_user, code)
    if branch is None:
        abort(404)
    return branch


@bp.get("/branch")
@roles_required("manager", "owner")
def branch_home():
    """A manager goes to their branch; an owner picks one."""
    if access.is_manager(current_user):
        return redirect(url_for(".branch", code=current_user.branch.code))
    branches = directory.visible_branches(db.session, current_user)
    return render_template("manage/branches.html", branches=branches)


@bp.get("/branches/<code>")
@roles_required("manager", "owner")
def branch(code: str):
    """The branch dashboard for the chosen week or month."""
    found = branch_or_404(code)
    period = chosen_period()
    today = local_today()
    report = data.branch_report(
        db.session,
        found,
        period,
        today=today,
        tz=company_tz(),
        cold=warm.for_pages(current_app._get_current_object()),
        kept_leads=lead_ranking.for_pages(current_app._get_current_object(), tz=company_tz()),
    )
    return render_template(
        "manage/branch.html",
        branch=found,
        period=period,
        report=report,
        why=_why(),
        lint=_lint(),
        failed_mails=mail_log.failed_count(
            db.session, current_user, today, report=f"branch:{found.code}"
        ),
    )


@bp.get("/summary")
@roles_required("owner")
def summary():
    """The owner's one page: company KGI and KPIs, branch by branch, trends and hypotheses."""
    period = chosen_period()
    report = data.company_report(
        db.session,
        period,
        today=local_today(),
        tz=company_tz(),
        weeks=SUMMARY_WEEKS,
        cold=warm.for_pages(current_app._get_current_object()),
    )
    board = hypotheses.visible(db.session, current_user)
    return render_template(
        "manage/summary.html",
        period=period,
        report=report,
        lint=_lint(),
        hypotheses=board,
        failed_mails=mail_log.failed_count(db.session, current_user, local_today()),
    )


@bp.get("/forecast-jobs/<token>")
@roles_required("manager", "owner")
def forecast_job(token: str):
    """A background forecast's progress, polled by the placeholder of the 予実 card. A job
    this process does not know (forgotten, or another worker's) reads as done: the page
    reloads and asks again."""
    found = warm.status(token)
    return jsonify(found or {"progress": 1.0, "done": True, "failed": False})


@bp.get("/lead-jobs/<week>")
@roles_required("manager", "owner")
def lead_job(week: str):
    """The progress of the lead analyses a branch dashboard waits for (the KPI ranking of the
    weeks up to ``week``), in the forecast job's shape; none under way reads as done (the page
    reloads and asks again)."""
    try:
        until = Period.parse(week)
    except ValueError:
        abort(404)
    view = kpi_ranking.ranking_view(db.session, until)
    if view.state in ("running", "failed"):
        return jsonify(
            {
                "progress": round(view.fraction, 2),
                "done": view.state == "failed",
                "failed": view.state == "failed",
            }
        )
    return jsonify({"progress": 1.0, "done": True, "failed": False})


@bp.get("/me")
@roles_required("rep", "manager")
def my_week():
    """The signed-in person's own active KPIs against targets, with the trend and the why.

    It opens on the week in progress ("this week"), the one a rep can still change; the
    figures count what has happened so far (a follow-up not yet due is not yet missed).
    """
    period = chosen_period(current=True)
    figures = data.rep_figures(
        db.session, current_user.id, period, today=local_today(), tz=company_tz()
    )
    labels = data.trend_labels(period, data.TREND_WEEKS)
    day = local_today()
    plan_day = week_gaps.plan_day(day)
    gaps = week_gaps.gaps(
        db.session,
        current_user,
        period,
        [f.key for f in figures],
        today=day,
        tz=company_tz(),
        settings=company_settings(db.session),
    )
    return render_template(
        "manage/my_week.html",
        period=period,
        in_progress=period.start <= day <= period.end,
        figures=figures,
        gaps=gaps,
        plan_day=plan_day,
        planned=planned_visits.planned_customer_ids(db.session, current_user, plan_day),
        labels=labels,
        why=_why(),
        lint=_lint(),
    )


def _review_answers(keys: list[str]) -> tuple[dict[str, reviews.Answer], dict[str, list[Any]]]:
    """The review form's fields (``why-<kpi>``, ``cause-<kpi>``, …) as answers, and the error
    of a hypothesis that is not a row id (the list offers only ids)."""
    form = request.form
    answers = {}
    errors: dict[str, list[Any]] = {}
    for key in keys:
        hypothesis = form.get(f"hypothesis-{key}", "").strip()
        hypothesis_id = limits.row_id(hypothesis) if hypothesis else None
        if hypothesis and hypothesis_id is None:
            errors[f"hypothesis.{key}"] = [_l("Choose a hypothesis from the list.")]
        answers[key] = reviews.Answer(
            why=form.get(f"why-{key}", ""),
            cause=form.get(f"cause-{key}") or None,
            next_change=form.get(f"next-{key}", ""),
            hypothesis_id=hypothesis_id,
        )
    return answers, errors


@bp.route("/branches/<code>/review", methods=["GET", "POST"])
@roles_required("manager", "owner")
def review(code: str):
    """The weekly review: why, quantity/quality/design, what changes next — per active KPI."""
    found = branch_or_404(code)
    period = chosen_period(months="ignored")  # the review's picker offers weeks
    report = data.branch_report(db.session, found, period, today=local_today(), tz=company_tz())
    keys = [f.key for f in report.kpis]
    linkable = hypotheses.linkable(db.session, current_user, found.id)
    errors: dict = {}
    answers: dict[str, reviews.Answer] | None = None
    if request.method == "POST":
        answers, errors = _review_answers(keys)
        try:
            if errors:
                raise Invalid(errors=errors)
            with unit_of_work():
                reviews.save(
                    db.session,
                    current_user,
                    found,
                    period,
                    answers,
                    allowed_hypotheses={h.id for h in linkable},
                    suggested={key: gap.cause for key, gap in report.gaps.items()},
                )
        except Invalid as error:
            errors = error.errors
        else:
            flash(_("The review for %(week)s was saved.", week=period.label), "success")
            return redirect(url_for(".review", code=found.code, week=period.label))
    saved = reviews.for_week(db.session, found.id, period)
    if answers is None:
        answers = {
            key: reviews.Answer(
                why=saved[key].why,
                cause=saved[key].cause,
                next_change=saved[key].next_change,
                hypothesis_id=saved[key].hypothesis_id,
            )
            if key in saved
            else reviews.Answer(cause=report.gaps[key].cause if key in report.gaps else None)
            for key in keys
        }
    return render_template(
        "manage/review.html",
        branch=found,
        period=period,
        report=report,
        answers=answers,
        last_week=reviews.for_week(db.session, found.id, period.previous()),
        hypotheses=linkable,
        history=reviews.weeks(db.session, found.id),
        errors=errors,
        why=_why(),
        lint=_lint(),
    ), (422 if errors else 200)


def _hypothesis_form() -> dict:
    return {**request.form.to_dict(), "kpis": request.form.getlist("kpis")}


@bp.get("/hypotheses")
@roles_required("manager", "owner")
def hypotheses_list():
    """Every hypothesis the user may see: company-wide ones and their branch's."""
    rows = hypotheses.visible(db.session, current_user)
    return render_template("manage/hypotheses.html", hypotheses=rows)


@bp.route("/hypotheses/new", methods=["GET", "POST"])
@roles_required("manager", "owner")
def hypothesis_new():
    errors: dict = {}
    form: dict = {"kgi": "sales_amount", "status": "testing", "started_on": local_today()}
    if request.method == "POST":
        form = _hypothesis_form()
        try:
            with unit_of_work():
                created = hypotheses.create(db.session, current_user, form, today=local_today())
        except Invalid as error:
            errors = error.errors
        else:
            flash(_("The hypothesis was saved."), "success")
            return redirect(url_for(".hypothesis", hypothesis_id=created.id))
    return render_template(
        "manage/hypothesis_form.html", form=form, errors=errors, hypothesis=None
    ), (422 if errors else 200)


@bp.route("/hypotheses/<int:hypothesis_id>", methods=["GET", "POST"])
@roles_required("manager", "owner")
def hypothesis(hypothesis_id: int):
    """A hypothesis with its KPI and KGI series since the start, and the reviews naming it."""
    found = access.get(db.session, access.hypotheses(current_user), Hypothesis, hypothesis_id)
    if found is None:
        abort(404)
    errors: dict = {}
    form: dict = {
        "statement": found.statement,
        "kpis": found.kpis,
        "kgi": found.kgi,
        "target": found.target,
        "started_on": found.started_on,
        "status": found.status,
        "note": found.note,
    }
    if request.method == "POST":
        if not hypotheses.can_edit(current_user, found):
            abort(403)
        form = _hypothesis_form()
        try:
            with unit_of_work():
                hypotheses.update(
                    db.session, current_user, found, form, today=local_today(), tz=company_tz()
                )
        except Invalid as error:
            errors = error.errors
        else:
            flash(_("The hypothesis was saved."), "success")
            return redirect(url_for(".hypothesis", hypothesis_id=found.id))
    compared = hypotheses.comparison(db.session, found, today=local_today(), tz=company_tz())
    leads = hypotheses.branch_leads(
        db.session, found, today=local_today(), tz=company_tz(), comparison=compared
    )
    return render_template(
        "manage/hypothesis.html",
        hypothesis=found,
        compared=compared,
        leads=leads,
        suggestion=hypotheses.overall(leads, hypothesis=found, compared=compared),
        compared_judges=hypotheses.comparison_judges(found, compared),
        # The comparison's minimum weeks, as kpi/did.py counts them (one address for the rule).
        did_weeks={"before": kpi_did.MIN_BEFORE, "after": kpi_did.MIN_AFTER},
        changes=hypotheses.status_changes(db.session, found),
        mentions=hypotheses.mentions(db.session, current_user, found),
        editable=hypotheses.can_edit(current_user, found),
        form=form,
        errors=errors,
    ), (422 if errors else 200)

"""Owner administration: branches, users, customers, purposes and categories.

Thin views: read the form, call the directory service, commit or re-render with the field
errors next to the fields. The rules live in ``fieldlog.services.directory``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from ..app.extensions import db
from ..models import RANKS, ROLES, Branch, Category, Customer, Purpose, User
from ..rules import limits
from ..services import directory
from .admin_form import Field, checked, form_page
from .common import roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")

ROLE_LABELS = {"rep": _l("Rep"), "manager": _l("Manager"), "owner": _l("Owner")}


@bp.before_request
@roles_required("owner")
def _owner_only() -> None:
    """Every admin page is the owner's."""


def _branch_options(blank: Any) -> list[tuple[str, Any]]:
    options = [(str(b.id), f"{b.code} {b.name}") for b in directory.branches(db.session)]
    return [("", blank), *options]


# ---- index ---------------------------------------------------------------------------------


@bp.get("/")
def index():
    return render_template("admin/index.html", counts=directory.counts(db.session))


# ---- branches ------------------------------------------------------------------------------


@bp.get("/branches")
def branches():
    return render_template("admin/branches.html", rows=directory.branches(db.session))


def _branch_fields() -> list[Field]:
    return [
        Field("code", _l("Code"), required=True, help=_l("For example TKY.")),
        Field("name", _l("Name"), required=True),
    ]


@bp.route("/branches/new", methods=["GET", "POST"])
@bp.route("/branches/<int:branch_id>", methods=["GET", "POST"])
def branch_edit(branch_id: int | None = None):
    branch = directory.entry(db.session, Branch, branch_id) if branch_id else None
    return form_page(
        title=_l("Edit branch") if branch else _l("New branch"),
        fields=_branch_fields(),
        values={"code": branch.code, "name": branch.name} if branch else {},
        save=lambda p, e: directory.save_branch(db.session, branch, code=p["code"], name=p["name"]),
        back=url_for("admin.branches"),
    )


# ---- users ---------------------------------------------------------------------------------


@bp.get("/users")
def users():
    rows = directory.users(db.session)
    return render_template("admin/users.html", rows=rows, role_labels=ROLE_LABELS)


@bp.route("/users/new", methods=["GET", "POST"])
@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int | None = None):
    user = directory.entry(db.session, User, user_id) if user_id else None
    fields = [
        Field("email", _l("Email"), "email", required=True),
        Field("name", _l("Name"), required=True),
        Field("role", _l("Role"), "select", [(r, ROLE_LABELS[r]) for r in ROLES], required=True),
        Field(
            "branch",
            _l("Branch"),
            "select",
            _branch_options(_l("(none: owners)")),
            help=_l("Reps and managers belong to a branch; owners do not."),
        ),
        Field("active", _l("Active (can log in)"), "checkbox"),
        Field(
            "password",
            _l("New password") if user else _l("Password"),
            "password",
            help=_l("Leave blank to keep the current password. A new one logs the user out.")
            if user
            else _l("At least 8 characters."),
            required=user is None,
        ),
    ]
    values: dict[str, Any] = {"role": "rep", "active": "y"}
    if user:
        values = {
            "email": user.email,
            "name": user.name,
            "role": user.role,
            "branch": str(user.branch_id or ""),
            "active": "y" if user.active else "",
        }

    def save(p: dict[str, Any], errors: dict[str, list[Any]]) -> User:
        return directory.save_user(
            db.session,
            current_user,
            user,
            email=p["email"],
            name=p["name"],
            role=p["role"],
            branch_id=p["branch"],
            active=checked(p, "active"),
            password=p["password"],
        )

    return form_page(
        title=_l("Edit user") if user else _l("New user"),
        fields=fields,
        values=values,
        save=save,
        back=url_for("admin.users"),
        numbers=("branch",),
    )


# ---- customers -----------------------------------------------------------------------------


@bp.get("/customers")
def customers():
    query = request.args.get("q", "")[:100]
    page = limits.page_number(request.args.get("page"))
    branch_id = request.args.get("branch", type=int)
    if branch_id is not None and not limits.id_in_range(branch_id):
        branch_id = -1  # no such branch: an empty list, as for any unknown id
    rows, total = directory.customer_page(db.session, query, page, branch_id)
    pages = max(1, -(-total // directory.PAGE_SIZE))
    return render_template(
        "admin/customers.html",
        rows=rows,
        total=total,
        page=min(max(page, 1), pages),
        pages=pages,
        query=query,
        branch_id=branch_id,
        branches=directory.branches(db.session),
    )


@bp.route("/customers/new", methods=["GET", "POST"])
@bp.route("/customers/<int:customer_id>", methods=["GET", "POST"])
def customer_edit(customer_id: int | None = None):
    customer = directory.entry(db.session, Customer, customer_id) if customer_id else None
    people = directory.assignable_reps(db.session, customer)
    rep_options = [("", _l("(not assigned)"))] + [
        (str(u.id), f"{u.name} ({u.branch.code if u.branch else ''})") for u in people
    ]
    fields = [
        Field("code", _l("Customer code"), required=True),
        Field("name", _l("Name"), required=True),
        Field("name_kana", _l("Reading (katakana)")),
        Field("branch", _l("Branch"), "select", _branch_options(_l("Choose…")), required=True),
        Field(
            "rep",
            _l("Assigned rep"),
            "select",
            rep_options,
            help=_l("Must belong to the customer's branch."),
        ),
        Field("rank", _l("Rank"), "select", [(r, r) for r in RANKS], required=True),
        Field(
            "visit_cycle_days",
            _l("Visit cycle (days)"),
            "number",
            help=_l("Leave blank to use the rank's default cycle."),
        ),
        Field("active", _l("Active"), "checkbox"),
    ]
    values: dict[str, Any] = {"rank": "B", "active": "y"}
    if customer:
        values = {
            "code": customer.code,
            "name": customer.name,
            "name_kana": customer.name_kana,
            "branch": str(customer.branch_id),
            "rep": str(customer.rep_id or ""),
            "rank": customer.rank,
            "visit_cycle_days": customer.visit_cycle_days or "",
            "active": "y" if customer.active else "",
        }

    def save(p: dict[str, Any], errors: dict[str, list[Any]]) -> Customer:
        return directory.save_customer(
            db.session,
            customer,
            code=p["code"],
            name=p["name"],
            name_kana=p["name_kana"],
            branch_id=p["branch"],
            rep_id=p["rep"],
            rank=p["rank"],
            visit_cycle_days=p["visit_cycle_days"],
            active=checked(p, "active"),
        )

    return form_page(
        title=_l("Edit customer") if customer else _l("New customer"),
        fields=fields,
        values=values,
        save=save,
        back=url_for("admin.customers"),
        numbers=("branch", "rep", "visit_cycle_days"),
    )


# ---- purposes and categories ---------------------------------------------------------------


@bp.get("/purposes")
def purposes():
    return render_template("admin/purposes.html", rows=directory.purposes(db.session))


@bp.route("/purposes/new", methods=["GET", "POST"])
@bp.route("/purposes/<int:purpose_id>", methods=["GET", "POST"])
def purpose_edit(purpose_id: int | None = None):
    purpose = directory.entry(db.session, Purpose, purpose_id) if purpose_id else None
    fields = [
        Field(
            "code",
            _l("Code"),
            "readonly" if purpose else "text",
            help=_l("Cannot be changed later: phones with unsent visits use it."),
            required=purpose is None,
        ),
        Field("label_ja", _l("Label (Japanese)"), required=True),
        Field("label_en", _l("Label (English)"), required=True),
        Field(
            "purposeful",
            _l("Counts as a purposeful visit"),
            "checkbox",
            help=_l("Applies to visits recorded from now on; past visits keep their own flag."),
        ),
        Field("sort", _l("Sort order"), "number"),
        Field("active", _l("Active"), "checkbox"),
    ]
    values: dict[str, Any] = {"purposeful": "y", "active": "y", "sort": 100}
    if purpose:
        values = {
            "code": purpose.code,
            "label_ja": purpose.label_ja,
            "label_en": purpose.label_en,
            "purposeful": "y" if purpose.purposeful else "",
            "sort": purpose.sort,
            "active": "y" if purpose.active else "",
        }

    def save(p: dict[str, Any], errors: dict[str, list[Any]]) -> Purpose:
        return directory.save_purpose(
            db.session,
            purpose,
            code=p["code"],
            label_ja=p["label_ja"],
            label_en=p["label_en"],
            purposeful=checked(p, "purposeful"),
            sort=p["sort"] or 0,
            active=checked(p, "active"),
            user=current_user,
        )

    return form_page(
        title=_l("Edit purpose") if purpose else _l("New purpose"),
        fields=fields,
        values=values,
        save=save,
        back=url_for("admin.purposes"),
        numbers=("sort",),
    )


@bp.get("/categories")
def categories():
    return render_template("admin/categories.html", rows=directory.categories(db.session))


@bp.route("/categories/new", methods=["GET", "POST"])
@bp.route("/categories/<int:category_id>", methods=["GET", "POST"])
def category_edit(category_id: int | None = None):
    category = directory.entry(db.session, Category, category_id) if category_id else None
    fields = [
        Field("code", _l("Code"), required=True),
        Field("name", _l("Name"), required=True),
        Field("sort", _l("Sort order"), "number"),
        Field("active", _l("Active"), "checkbox"),
    ]
    values: dict[str, Any] = {"active": "y", "sort": 100}
    if category:
        values = {
            "code": category.code,
            "name": category.name,
            "sort": category.sort,
            "active": "y" if category.active else "",
        }

    def save(p: dict[str, Any], errors: dict[str, list[Any]]) -> Category:
        return directory.save_category(
            db.session,
            category,
            code=p["code"],
            name=p["name"],
            sort=p["sort"] or 0,
            active=checked(p, "active"),
        )

    return form_page(
        title=_l("Edit category") if category else _l("New category"),
        fields=fields,
        values=values,
        save=save,
        back=url_for("admin.categories"),
        numbers=("sort",),
    )

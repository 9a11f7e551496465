"""Owner administration: pages, the directory service's rules, and who may use them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fieldlog.app.extensions import db
from fieldlog.models import Branch, Category, Customer, LoginSession, Purpose, User
from fieldlog.services import directory
from fieldlog.services.errors import Invalid

from .conftest import csrf_from


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def owner(make, auth):
    user = make.user("owner")
    auth.login(user)
    return user


def _post(client, path: str, data: dict):
    token = csrf_from(client.get(path).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token})


def test_owner_creates_and_edits_each_kind_of_record(client, owner, make):
    response = _post(client, "/admin/branches/new", {"code": "KYT", "name": "京都支店"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/branches")
    branch = db.session.scalars(select(Branch).where(Branch.code == "KYT")).one()
    _post(client, f"/admin/branches/{branch.id}", {"code": "KYT", "name": "京都営業所"})
    db.session.refresh(branch)
    assert branch.name == "京都営業所"

    response = _post(
        client,
        "/admin/users/new",
        {"email": "New.Rep@Example.jp", "name": "新人 一郎", "role": "rep",
         "branch": str(branch.id), "active": "y", "password": "long-enough-1"},
    )  # fmt: skip
    assert response.status_code == 302
    rep = db.session.scalars(select(User).where(User.email == "new.rep@example.jp")).one()
    assert rep.branch_id == branch.id and rep.active

    response = _post(
        client,
        "/admin/customers/new",
        {"code": "K-001", "name": "株式会社京都精機", "name_kana": "きょうとｾｲｷ",
         "branch": str(branch.id), "rep": str(rep.id), "rank": "A", "visit_cycle_days": "",
         "active": "y"},
    )  # fmt: skip
    assert response.status_code == 302
    customer = db.session.scalars(select(Customer).where(Customer.code == "K-001")).one()
    assert (customer.rep_id, customer.rank, customer.visit_cycle_days) == (rep.id, "A", None)
    assert customer.name_kana == "キョウトセイキ", "readings are stored in full-width katakana"
    _post(
        client,
        f"/admin/customers/{customer.id}",
        {"code": "K-001", "name": "株式会社京都精機", "name_kana": "キョウトセイキ",
         "branch": str(branch.id), "rep": "", "rank": "C", "visit_cycle_days": "21"},
    )  # fmt: skip
    db.session.refresh(customer)
    assert (customer.rep_id, customer.rank, customer.visit_cycle_days) == (None, "C", 21)
    assert customer.active is False  # an unticked box deactivates
    assert "きょうとせいき" in customer.search_text

    response = _post(
        client,
        "/admin/purposes/new",
        {"code": "demo", "label_ja": "デモ", "label_en": "Demo", "sort": "70", "active": "y"},
    )
    assert response.status_code == 302
    purpose = db.session.scalars(select(Purpose).where(Purpose.code == "demo")).one()
    assert purpose.purposeful is False and purpose.sort == 70

    response = _post(
        client,
        "/admin/categories/new",
        {"code": "TAPE", "name": "テープ", "sort": "", "active": "y"},
    )
    assert response.status_code == 302
    category = db.session.scalars(select(Category).where(Category.code == "TAPE")).one()
    _post(
        client,
        f"/admin/categories/{category.id}",
        {"code": "TAPE", "name": "テープ類", "sort": "5"},
    )
    db.session.refresh(category)
    assert (category.name, category.sort, category.active) == ("テープ類", 5, False)

    for path in ("/admin/", "/admin/branches", "/admin/users", "/admin/customers",
                 "/admin/purposes", "/admin/categories"):  # fmt: skip
        page = client.get(path)
        assert page.status_code == 200, path
    listing = client.get("/admin/customers?q=きょうと").get_data(as_text=True)
    assert "K-001" in listing


def test_customer_list_is_searchable_and_paged(client, owner, make):
    branch = make.branch("TKY", "東京支店")
    for n in range(directory.PAGE_SIZE + 5):
        make.customer(
            branch, code=f"P{n:03d}", name=f"顧客{n}", name_kana="ヤマダ" if n == 7 else ""
        )
    db.session.commit()
    first = client.get("/admin/customers").get_data(as_text=True)
    assert "P000" in first and f"P{directory.PAGE_SIZE:03d}" not in first
    second = client.get("/admin/customers?page=2").get_data(as_text=True)
    assert f"P{directory.PAGE_SIZE:03d}" in second
    found = client.get("/admin/customers?q=ﾔﾏﾀﾞ").get_data(as_text=True)  # half-width kana
    assert "P007" in found and "P008" not in found


def test_purposeful_change_never_rewrites_past_visits(client, owner, make):
    rep = make.user("rep")
    customer = make.customer(rep.branch, rep)
    visit = make.visit(rep, customer, purpose="routine")
    assert visit.purposeful is False
    routine = db.session.scalars(select(Purpose).where(Purpose.code == "routine")).one()
    _post(
        client,
        f"/admin/purposes/{routine.id}",
        {"code": "other", "label_ja": routine.label_ja, "label_en": routine.label_en,
         "purposeful": "y", "sort": "50", "active": "y"},
    )  # fmt: skip
    db.session.expire_all()
    assert routine.purposeful is True and routine.code == "routine", "the code is fixed"
    assert db.session.get(type(visit), visit.id).purposeful is False


def test_deactivating_a_user_revokes_their_sessions(app, owner, make, client):
    rep = make.user("rep")
    rep_client = app.test_client()
    from .conftest import Auth

    Auth(rep_client).login(rep)
    assert rep_client.get("/").status_code == 200
    _post(
        client,
        f"/admin/users/{rep.id}",
        {"email": rep.email, "name": rep.name, "role": "rep", "branch": str(rep.branch_id)},
    )
    db.session.expire_all()
    assert rep.active is False
    assert all(
        s.revoked_at is not None
        for s in db.session.scalars(select(LoginSession).where(LoginSession.user_id == rep.id))
    )
    assert rep_client.get("/").status_code == 302


USER = {"email": "x@example.jp", "name": "x", "role": "rep", "branch": "{tky}",
        "password": "long-enough-1"}  # fmt: skip
CUSTOMER = {"code": "C-NEW", "name": "x", "branch": "{tky}", "rank": "B"}
TAKEN = "既に使われています"
INVALID = [
    ("branches", {"code": "TKY", "name": "重複"}, "code", TAKEN),
    ("branches", {"code": "", "name": "名前"}, "code", "必須項目です"),
    ("branches", {"code": "A B", "name": "名前"}, "code", "空白"),
    ("categories", {"code": "OIL", "name": "重複"}, "code", TAKEN),
    ("purposes", {"code": "hearing", "label_ja": "x", "label_en": "x"}, "code", TAKEN),
    ("users", {**USER, "role": "owner"}, "branch", "支店に所属しません"),
    ("users", {**USER, "branch": ""}, "branch", "支店が必要です"),
    ("users", {**USER, "email": "{rep_email}"}, "email", "すでに存在します"),
    ("users", {**USER, "password": "short"}, "password", "8文字以上"),
    ("users", {**USER, "role": "boss"}, "role", "いずれか"),
    ("customers", {**CUSTOMER, "rep": "{osaka_rep}"}, "rep", "同じ支店"),
    ("customers", {**CUSTOMER, "rank": "Z"}, "rank", "A・B・C"),
    ("customers", {**CUSTOMER, "visit_cycle_days": "0"}, "visit_cycle_days", "1以上"),
    ("customers", {**CUSTOMER, "visit_cycle_days": "-5"}, "visit_cycle_days", "1以上"),
    ("customers", {**CUSTOMER, "visit_cycle_days": "abc"}, "visit_cycle_days", "整数"),
    ("customers", {**CUSTOMER, "code": "C-1"}, "code", TAKEN),
    ("customers", {**CUSTOMER, "branch": ""}, "branch", "支店を選んでください"),
]

MODELS = (Branch, User, Customer, Purpose, Category)


@pytest.mark.parametrize(("kind", "data", "field", "message"), INVALID)
def test_invalid_input_shows_field_errors_and_writes_nothing(
    client, make, owner, kind, data, field, message
):
    tky = make.branch("TKY", "東京支店")
    osaka_rep = make.user("rep", make.branch("OSK", "大阪支店"))
    make.customer(tky, code="C-1")
    make.category("OIL")
    db.session.commit()
    ids = {"tky": tky.id, "osaka_rep": osaka_rep.id, "rep_email": osaka_rep.email}
    before = [_count(m) for m in MODELS]
    response = _post(client, f"/admin/{kind}/new", {k: v.format(**ids) for k, v in data.items()})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'id="err-{field}"' in html and message in html, html
    assert [_count(m) for m in MODELS] == before


def test_service_rules_hold_without_http(app, make):
    tky = make.branch("TKY")
    rep = make.user("rep", tky)
    owner = make.user("owner")
    make.customer(tky, rep)
    with pytest.raises(Invalid) as moved:
        directory.save_user(
            db.session, owner, rep, email=rep.email, name=rep.name, role="rep",
            branch_id=make.branch("OSK").id, active=True,
        )  # fmt: skip
    assert "branch" in moved.value.errors, "a rep with customers cannot leave their branch"
    with pytest.raises(Invalid) as self_lockout:
        directory.save_user(
            db.session, owner, owner, email=owner.email, name=owner.name, role="owner",
            branch_id=None, active=False,
        )  # fmt: skip
    assert "active" in self_lockout.value.errors


ADMIN_PATHS = [
    "/admin/", "/admin/branches", "/admin/branches/new", "/admin/branches/{branch}",
    "/admin/users", "/admin/users/new", "/admin/users/{user}", "/admin/customers",
    "/admin/customers/new", "/admin/customers/{customer}", "/admin/purposes",
    "/admin/purposes/new", "/admin/purposes/{purpose}", "/admin/categories",
    "/admin/categories/new", "/admin/categories/{category}",
]  # fmt: skip


@pytest.mark.parametrize("role", ["rep", "manager"])
def test_reps_and_managers_get_403_on_every_admin_route(app, make, role):
    from .conftest import Auth

    branch = make.branch("TKY")
    user = make.user(role, branch)
    ids = {
        "branch": branch.id,
        "user": user.id,
        "customer": make.customer(branch).id,
        "purpose": db.session.scalar(select(Purpose.id).limit(1)),
        "category": make.category().id,
    }
    client = app.test_client()
    auth = Auth(client)
    auth.login(user)
    token = auth.csrf()
    before = [_count(m) for m in MODELS]
    for template in ADMIN_PATHS:
        path = template.format(**ids)
        assert client.get(path).status_code == 403, path
        posted = client.post(path, data={"csrf_token": token, "code": "X", "name": "X"})
        assert posted.status_code in (403, 405), path
    assert [_count(m) for m in MODELS] == before


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/users")
    assert response.status_code == 302 and "/login" in response.headers["Location"]

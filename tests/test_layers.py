"""The layering rule of docs/architecture.md, checked on the import graph and the view modules.

Read with ``ast``, not by importing: a rule breaks here the moment a line is written, whatever
happens to be installed or imported first.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "fieldlog"

FRAMEWORKS = {"flask", "flask_babel", "flask_login", "flask_wtf", "flask_sqlalchemy", "werkzeug"}
DATABASE = {"sqlalchemy", "alembic", "flask_migrate", "psycopg", "sqlite3"}


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in PACKAGE.rglob("*.py")}

# The folders are the layers (docs/architecture.md); only the factory and the tables sit on top.
LAYERS = (
    "app",
    "rules",
    "services",
    "kpi",
    "reports",
    "present",
    "jobs",
    "io",
    "web",
    "cli",
    "demo",
)
# The tables: one module per aggregate in fieldlog/models/, re-exported by its __init__.
TOP_LEVEL = {"fieldlog"} | {m for m in MODULES if m.startswith("fieldlog.models")}
# The pure rules: no Session, no Flask. Tested with plain tables, usable from anywhere.
RULES = sorted(m for m in MODULES if m.startswith("fieldlog.rules."))
# Pure modules kept beside the layer they serve: the formatter and the chart renderer, the
# import's column rules, the errors services raise, and the KPI maths (lead/lag, forecast,
# difference in differences).
PURE_ELSEWHERE = [
    "fieldlog.present.numbers",
    "fieldlog.present.charts",
    "fieldlog.io.columns",
    "fieldlog.services.errors",
    "fieldlog.kpi.leadlag",
    "fieldlog.kpi.forecast",
    "fieldlog.kpi.forecast_combine",
    "fieldlog.kpi.forecast_history",
    "fieldlog.kpi.forecast_pipeline",
    "fieldlog.kpi.did",
]


def imports_of(module: str) -> set[str]:
    """Absolute names a module imports (``from . import x`` resolved; submodules included)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES}
    return found


def reachable(module: str) -> tuple[set[str], set[str]]:
    """FieldLog modules reached from ``module`` through imports, and the outside packages."""
    seen: set[str] = set()
    outside: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for name in imports_of(current):
            if name in MODULES:
                todo.append(name)
            elif name.split(".")[0] != "fieldlog":
                outside.add(name.split(".")[0])
    return seen, outside


def test_the_import_reader_sees_real_imports():
    """Guard against a reader that finds nothing: known edges must show."""
    assert "fieldlog.rules.text" in imports_of("fieldlog.models.customers")
    assert "fieldlog.models.customers" in imports_of("fieldlog.models")
    assert "sqlalchemy" in reachable("fieldlog.kpi.rollup")[1]
    assert "flask" in reachable("fieldlog.web.field")[1]


@pytest.mark.parametrize("module", RULES + PURE_ELSEWHERE)
def test_pure_rules_import_neither_flask_nor_the_database(module):
    modules, outside = reachable(module)
    found = outside & (FRAMEWORKS | DATABASE)
    assert not found, f"{module} reaches {sorted(found)} through {sorted(modules - {module})}"


# Run in a fresh interpreter: a finder first on sys.meta_path refuses the frameworks and the
# database libraries, and ``fieldlog`` is a bare package (its __init__, the app factory, is not
# run), so the module and everything it imports must do without them.
BLOCKED_IMPORT = """
import importlib, sys, types
blocked = set(sys.argv[2].split(","))

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is blocked: rules import neither Flask nor the database")
        return None

sys.meta_path.insert(0, Blocker())
package = types.ModuleType("fieldlog")
package.__path__ = [sys.argv[3]]
sys.modules["fieldlog"] = package
importlib.import_module(sys.argv[1])
print("imported", sys.argv[1])
"""


def _import_blocked(module: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCKED_IMPORT,
            module,
            ",".join(sorted(FRAMEWORKS | DATABASE | {"flask_babel"})),
            str(PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


@pytest.mark.parametrize("module", RULES)
def test_rules_import_with_flask_and_the_database_unavailable(module):
    done = _import_blocked(module)
    assert done.returncode == 0 and f"imported {module}" in done.stdout, done.stderr[-2000:]


def test_the_blocked_import_does_block():
    """Guard against a blocker that lets everything through: a module using Flask fails."""
    done = _import_blocked("fieldlog.present.words")
    assert done.returncode != 0 and "is blocked" in done.stderr


def test_the_rules_folder_holds_the_rules():
    assert {"fieldlog.rules.periods", "fieldlog.rules.text", "fieldlog.rules.limits"} <= set(RULES)
    assert {"fieldlog.rules.kpi_catalogue", "fieldlog.rules.entry"} <= set(RULES)
    assert "fieldlog.rules.cadence" in RULES


@pytest.mark.parametrize("module", RULES)
def test_rules_import_only_rules(module):
    own = {n for n in imports_of(module) if n.startswith("fieldlog") and n in MODULES}
    assert {n for n in own if not n.startswith("fieldlog.rules")} == set()


def test_every_module_sits_in_a_layer_folder():
    """A newcomer finds each rule from the folder tree: no new flat modules at the top."""
    loose = {m for m in MODULES if m not in TOP_LEVEL and m.split(".")[1] not in LAYERS}
    assert loose == set(), "put these in the folder of their layer (docs/architecture.md)"


def _layer(module: str) -> str:
    return module.split(".")[1] if module.count(".") else ""


# What each layer never imports (the factory, fieldlog/__init__.py, wires them all).
NEVER = {
    "app": {"rules", "services", "kpi", "reports", "present", "jobs", "io", "web", "cli", "demo"},
    "services": {"web", "cli", "jobs", "demo"},
    "kpi": {"web", "cli", "jobs", "demo"},
    "reports": {"web", "cli", "jobs", "demo"},
    "io": {"web", "cli", "jobs", "demo"},
    "present": {"services", "web", "cli", "jobs", "demo"},
    "jobs": {"web", "cli", "demo"},
    "cli": {"web"},
    "demo": {"web", "cli", "jobs"},
}


@pytest.mark.parametrize("layer", sorted(NEVER))
def test_layers_import_downwards_only(layer):
    assert any(_layer(module) == layer for module in MODULES)
    offenders = {
        module: sorted(n for n in imports_of(module) if n in MODULES and _layer(n) in NEVER[layer])
        for module in MODULES
        if _layer(module) == layer
    }
    assert {m: names for m, names in offenders.items() if names} == {}


def test_presentation_takes_no_session():
    """present/ formats what it is given: no SQLAlchemy, no db handle, no engine settings."""
    offenders = {
        module: sorted(
            n
            for n in imports_of(module)
            if n.split(".")[0] in DATABASE
            or n in {"fieldlog.app.extensions", "fieldlog.app.database"}
        )
        for module in MODULES
        if _layer(module) == "present"
    }
    assert {m: names for m, names in offenders.items() if names} == {}


def test_nothing_below_the_web_layer_imports_it():
    """Services, models, jobs and the CLI never import fieldlog.web (the factory does)."""
    offenders = {
        module: sorted(n for n in imports_of(module) if n.startswith("fieldlog.web"))
        for module in MODULES
        if module != "fieldlog" and not module.startswith("fieldlog.web")
    }
    assert {m: names for m, names in offenders.items() if names} == {}


def test_the_forecast_knows_the_proposal_kinds_of_the_model():
    """kpi.forecast is pure, so it spells the proposal kinds itself: the same as the model's."""
    from fieldlog.kpi.forecast import KINDS
    from fieldlog.models import PROPOSAL_KINDS

    assert KINDS == PROPOSAL_KINDS


def test_models_import_no_service():
    allowed = {
        "fieldlog.app.extensions",
        "fieldlog.rules.text",
        "fieldlog.rules.periods",
        "fieldlog.rules.limits",
    }
    tables = {m for m in MODULES if m.startswith("fieldlog.models")}
    own = {n for m in tables for n in imports_of(m) if n.startswith("fieldlog")} - tables
    assert own <= allowed, sorted(own - allowed)


# ---- views do not query or commit --------------------------------------------------------

# Views and commands call services; no module of fieldlog/web/ or fieldlog/cli/ runs a query
# (select, execute, scalar(s)) or commits or rolls back by hand: the one transaction boundary is
# database.unit_of_work (web/transaction.unit_of_work for views), see docs/architecture.md.
SESSION_CALLS = {"execute", "scalar", "scalars", "commit", "rollback"}
# Building or running a query some other way: narrowing or ordering a statement, the legacy
# Query API, Flask-SQLAlchemy's pagers and lookups, and a session's get by primary key.
QUERY_CALLS = {
    "where",
    "filter",
    "filter_by",
    "order_by",
    "group_by",
    "having",
    "options",
    "with_only_columns",
    "outerjoin",
    "query",
    "paginate",
    "get_or_404",
    "first_or_404",
    "one_or_404",
}


def session_work(source: str) -> Counter[str]:
    """Calls that query or end a transaction: select(...), .execute/.scalar/.scalars,
    .commit/.rollback, the query builders of QUERY_CALLS and ``db.session.get(…)``."""
    found: Counter[str] = Counter()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == "select":
            found["select"] += 1
        elif isinstance(func, ast.Attribute) and func.attr in SESSION_CALLS | QUERY_CALLS | {
            "select"
        }:
            found[func.attr] += 1
        elif (  # db.session.get(Model, id); a bare ``session`` in a view is Flask's cookie
            isinstance(func, ast.Attribute)
            and func.attr == "get"
            and isinstance(func.value, ast.Attribute)
            and func.value.attr == "session"
        ):
            found["session.get"] += 1
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("db.session.commit()", {"commit": 1}),
        ("x = db.session.scalars(select(User)).all()", {"scalars": 1, "select": 1}),
        ("sa.select(User); s.execute(q); s.scalar(q); s.rollback()", {
            "select": 1, "execute": 1, "scalar": 1, "rollback": 1}),
        ("services.record_visit(db.session, user)", {}),
        ("db.paginate(access.visits(user).where(x).order_by(y), page=2)", {
            "paginate": 1, "where": 1, "order_by": 1}),
        ("db.session.query(Branch).filter_by(code=c).count()", {"query": 1, "filter_by": 1}),
        ("db.get_or_404(User, 1); db.session.get(User, 2); session.get('_fresh')", {
            "get_or_404": 1, "session.get": 1}),
        ("request.args.get('q'); form.get('x'); ', '.join(names)", {}),
    ],
)  # fmt: skip
def test_session_work_counts_what_it_should(source, expected):
    assert session_work(source) == Counter(expected)


@pytest.mark.parametrize("layer", ["web", "cli"])
def test_views_and_commands_neither_query_nor_commit(layer):
    """A view or command parses, calls a service inside unit_of_work, and answers."""
    found = {
        str(path.relative_to(PACKAGE / layer)): dict(counts)
        for path in sorted((PACKAGE / layer).rglob("*.py"))  # sub-packages of views too
        if (counts := session_work(path.read_text("utf-8")))
    }
    assert found == {}, "move these into a service, commit via unit_of_work (docs/architecture.md)"


def test_only_the_boundary_commits():
    """Services flush; app.database.unit_of_work (and end_reads, which ends a read) commit."""
    committing = {
        module
        for module, path in MODULES.items()
        if session_work(path.read_text("utf-8"))["commit"]
    }
    assert committing == {"fieldlog.app.database"}


def test_only_the_boundary_rolls_back():
    """A failed or read-only block ends through app.database (unit_of_work, read_only,
    discard), never by a hand-written rollback (the weekly mails and their queue included)."""
    rolling_back = {
        module
        for module, path in MODULES.items()
        if session_work(path.read_text("utf-8"))["rollback"]
    }
    assert rolling_back == {"fieldlog.app.database"}


# ---- role logic lives in access ---------------------------------------------------------

# Only access compares roles; the route guard (web.common.roles_required) asks access.has_role.
ROLE_CHECKS_ALLOWED = {"fieldlog.services.access"}
ROLE_NAMES = {"rep", "manager", "owner"}


def _a_role(node: ast.AST) -> bool:
    """A role value: a user's ``.role`` (not the ``User.role`` column in a query) or ``role``."""
    if isinstance(node, ast.Attribute):
        return node.attr == "role" and not (
            isinstance(node.value, ast.Name) and node.value.id == "User"
        )
    return isinstance(node, ast.Name) and node.id == "role"


def _role_literal(node: ast.AST, names: set[str] | None = None) -> bool:
    """Strings spelt out ("owner"), or a tuple/list/set of them; only ``names`` when given."""
    elements = node.elts if isinstance(node, ast.Tuple | ast.List | ast.Set) else [node]
    return all(
        isinstance(e, ast.Constant)
        and isinstance(e.value, str)
        and (names is None or e.value in names)
        for e in elements
    )


def role_checks(source: str) -> int:
    """A role (a user's ``.role``, or a ``role`` value) compared with role names."""
    found = 0
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        roles = [s for s in sides if _a_role(s)]
        # A user's .role against any string; a bare ``role`` value against the role names.
        names = None if any(isinstance(s, ast.Attribute) for s in roles) else ROLE_NAMES
        if roles and any(_role_literal(s, names) for s in sides):
            found += 1
    return found


def test_role_checks_count_what_they_should():
    assert role_checks('user.role == "owner" or current_user.role in ("a", "b")') == 2
    assert role_checks('select(User).where(User.role != "owner")') == 0
    assert role_checks("changed = role != user.role") == 0  # a value, not a permission
    assert role_checks('if role == "owner" and branch_id: pass') == 1  # a form's role, too
    assert role_checks('role in ("rep", "manager")') == 1


TEMPLATE_ROLE_CHECK = re.compile(r"\.role\s*(?:==|!=|\bnot\s+in\b|\bin\b)|\brole\s+(?:not\s+)?in\b")


def test_template_role_checks_are_found():
    found = TEMPLATE_ROLE_CHECK.search
    assert found("{% if current_user.role == 'owner' %}") and found("{% if u.role != 'rep' %}")
    assert found("{% if current_user.role in roles %}") and found("{% if role in ('rep',) %}")
    assert not found('<form role="search">') and not found("{{ role_labels[u.role] }}")
    assert not found("{% for endpoint, roles in items %}")


def test_no_template_compares_roles():
    """Templates word and show what services.access.viewer says (the ``viewer`` flags)."""
    templates = ROOT / "templates"
    offenders = [
        f"{path.relative_to(templates)}:{n}"
        for path in sorted(templates.rglob("*.html"))
        for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
        if TEMPLATE_ROLE_CHECK.search(line)
    ]
    assert offenders == []


def test_role_logic_lives_in_access():
    """Who may do what is asked of services.access (is_owner, is_manager_of, …), not re-spelt."""
    offenders = {
        module: n
        for module, path in MODULES.items()
        if module not in ROLE_CHECKS_ALLOWED
        and not module.startswith("fieldlog.demo")
        and (n := role_checks(path.read_text("utf-8")))
    }
    assert offenders == {}


@pytest.mark.parametrize("module", ["fieldlog.kpi.health", "fieldlog.kpi.gap"])
def test_kpi_returns_codes_not_words(module: str) -> None:
    """kpi.health (data health) and kpi.gap (the gap analysis) say what they found as codes and
    facts; present/report_text and present/gap_text word them."""
    assert not {n for n in imports_of(module) if n.startswith("flask_babel")}
    assert not {n for n in imports_of(module) if n.startswith("fieldlog.present")}

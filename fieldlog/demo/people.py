"""The demo company's structure: branches, people, categories and ~600 customers."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ..models import Branch, Category, Customer, User
from ..rules.text import search_key
from . import vocabulary as cat

# Visiting habits per profile: purposeful-visit rate, hearing rate when purposeful, proposal
# factor, next-action rate, share of follow-ups done on time, win rate, visit interval factor.
HABITS = ("purposeful", "hearing", "proposal", "next", "on_time", "win", "pace")
PROFILES: dict[str, dict[str, float]] = {
    name: dict(zip(HABITS, values, strict=True))
    for name, values in {
        "star": (0.9, 0.85, 1.5, 0.9, 0.88, 0.5, 0.8),
        "strong": (0.8, 0.75, 1.2, 0.8, 0.8, 0.45, 0.85),
        "steady": (0.68, 0.65, 1.0, 0.7, 0.7, 0.38, 0.9),
        "weak": (0.55, 0.5, 0.7, 0.55, 0.55, 0.3, 1.0),
        # 御用聞き型: goes often, mostly routine rounds and call-outs, rarely proposes.
        "order_taker": (0.18, 0.3, 0.35, 0.3, 0.5, 0.3, 0.32),
    }.items()
}

RANK_SHARES = (("A", 0.2), ("B", 0.5), ("C", 0.3))


@dataclass
class Person:
    id: int
    email: str
    name: str
    role: str
    branch: str | None
    profile: str


@dataclass
class Client:
    """A demo customer and what the activity generator needs to know about it."""

    id: int
    code: str
    branch: str
    rep_id: int
    rank: str
    cycle: int
    active: bool
    categories: list[str]
    # Extra categories the customer takes up later: (category code, from date).
    adopts: list[tuple[str, date]] = field(default_factory=list)
    # Dormant customers stop buying and being visited after this date.
    dormant_from: date | None = None
    # Customers left overdue today: no visit after this date.
    overdue_from: date | None = None


@dataclass
class Company:
    branches: dict[str, int]
    people: list[Person]
    categories: dict[str, int]
    clients: list[Client]

    def reps(self, branch: str | None = None) -> list[Person]:
        return [p for p in self.people if p.role == "rep" and branch in (None, p.branch)]

    def managers(self, branch: str) -> list[Person]:
        return [p for p in self.people if p.role == "manager" and p.branch == branch]

    def person(self, email_local: str) -> Person:
        return next(p for p in self.people if p.email.split("@")[0] == email_local)


def insert_rows(session: Session, model: type, rows: list[dict]) -> list[int]:
    """Bulk insert and return the new ids in the order of the rows."""
    if not rows:
        return []
    stmt = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(session.scalars(stmt, rows))


def _customer_names(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """Unique (name, reading) pairs: companies with legal forms, shops and clinics."""
    regional = [stem for _code, _name, _prefix, stems in cat.BRANCHES for stem in stems]
    stems = cat.FAMILY_STEMS + cat.CORPORATE_STEMS + tuple(regional)
    companies = [(s, t) for s in stems for t in cat.COMPANY_TYPES]
    shops = [(s, t) for s in cat.FAMILY_STEMS for t in cat.SHOP_TYPES]
    n_shops = count // 6
    picks = rng.sample(companies, count - n_shops) + rng.sample(shops, n_shops)
    rng.shuffle(picks)
    forms = [f[:2] for f in cat.LEGAL_FORMS]
    weights = [f[2] for f in cat.LEGAL_FORMS]
    names = []
    for (stem, stem_kana), (kind, kind_kana) in picks:
        base, reading = stem + kind, stem_kana + kind_kana
        if (kind, kind_kana) in cat.SHOP_TYPES:
            name = ("医療法人 " + base) if kind.endswith("医院") and rng.random() < 0.3 else base
        else:
            prefix, suffix = rng.choices(forms, weights)[0]
            name = prefix + base + suffix
        names.append((name, reading))
    return names


def build_company(
    session: Session,
    rng: random.Random,
    *,
    password_hash: str,
    customers: int,
    cycles: dict[str, int],
) -> Company:
    """Insert branches, users, categories and customers; returns what activity needs."""
    branch_ids = insert_rows(
        session, Branch, [{"code": c, "name": n} for c, n, _p, _s in cat.BRANCHES]
    )
    branches = {c: i for (c, *_rest), i in zip(cat.BRANCHES, branch_ids, strict=True)}
    user_rows = [
        {
            "email": f"{local}@{cat.EMAIL_DOMAIN}",
            "name": name,
            "role": role,
            "branch_id": branches[branch] if branch else None,
            "password_hash": password_hash,
            "active": True,
        }
        for local, name, role, branch, _profile in cat.PEOPLE
    ]
    user_ids = insert_rows(session, User, user_rows)
    people = [
        Person(i, row["email"], name, role, branch, profile)
        for i, row, (_l, name, role, branch, profile) in zip(
            user_ids, user_rows, cat.PEOPLE, strict=True
        )
    ]
    category_ids = insert_rows(
        session, Category, [{"code": c, "name": n, "sort": s} for c, n, s, _m in cat.CATEGORIES]
    )
    categories = {c: i for (c, *_rest), i in zip(cat.CATEGORIES, category_ids, strict=True)}
    company = Company(branches, people, categories, [])
    company.clients = _customers(session, rng, company, customers, cycles)
    return company


def _customers(
    session: Session,
    rng: random.Random,
    company: Company,
    count: int,
    cycles: dict[str, int],
) -> list[Client]:
    reps = company.reps()
    names = _customer_names(rng, count)
    ranks = [r for r, share in RANK_SHARES for _ in range(round(share * count))]
    ranks = (ranks + ["B"] * count)[:count]
    rng.shuffle(ranks)
    category_codes = list(company.categories)
    prefixes = {code: prefix for code, _n, prefix, _s in cat.BRANCHES}
    rows, clients = [], []
    per_branch: dict[str, int] = {}
    for index, ((name, reading), rank) in enumerate(zip(names, ranks, strict=True)):
        rep = reps[index % len(reps)]
        branch = rep.branch or ""
        per_branch[branch] = per_branch.get(branch, 0) + 1
        code = f"{prefixes[branch]}{per_branch[branch]:04d}"
        # A few A customers on a tighter cycle than their rank's default.
        cycle_days = 7 if rank == "A" and rng.random() < 0.1 else None
        active = rng.random() > 0.02
        rows.append(
            {
                "code": code,
                "name": name,
                "name_kana": reading,
                "address": cat.address(branch, index),
                "branch_id": company.branches[branch],
                "rep_id": rep.id,
                "rank": rank,
                "visit_cycle_days": cycle_days,
                "active": active,
                # Bulk inserts skip the ORM event that keeps the search key.
                "search_text": search_key(code, name, reading),
            }
        )
        k = {"A": rng.randint(3, 5), "B": rng.randint(2, 3), "C": rng.randint(1, 2)}[rank]
        clients.append(
            Client(
                id=0,
                code=code,
                branch=branch,
                rep_id=rep.id,
                rank=rank,
                cycle=cycle_days or cycles[rank],
                active=active,
                categories=rng.sample(category_codes, k),
            )
        )
    for client, customer_id in zip(clients, insert_rows(session, Customer, rows), strict=True):
        client.id = customer_id
    return clients

"""Who a KPI figure is about: the company, one branch, or one rep."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import Branch, User
from ..services import access


@dataclass(frozen=True)
class Scope:
    """A roll-up scope; ``id`` is the branch or user id (None for the company)."""

    kind: Literal["company", "branch", "rep"]
    id: int | None = None

    @classmethod
    def company(cls) -> Scope:
        return cls("company", None)

    @classmethod
    def branch(cls, branch_id: int) -> Scope:
        return cls("branch", branch_id)

    @classmethod
    def rep(cls, user_id: int) -> Scope:
        return cls("rep", user_id)

    def __post_init__(self) -> None:
        if self.kind not in ("company", "branch", "rep"):
            raise ValueError(f"unknown scope kind {self.kind!r}")
        if (self.kind == "company") != (self.id is None):
            raise ValueError("a company scope has no id; a branch or rep scope needs one")


KINDS = ("company", "branch", "rep")
_USAGE = {"company": "company", "branch": "branch:CODE", "rep": "rep:EMAIL"}


def scope_usage(kinds: tuple[str, ...] = KINDS) -> str:
    """What ``parse_scope`` accepts of ``kinds`` in words: "company, branch:CODE or rep:EMAIL"."""
    words = [_USAGE[k] for k in kinds]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def parse_scope(session: Session, text: str, kinds: tuple[str, ...] = KINDS) -> Scope:
    """Read "company", "branch:CODE" or "rep:EMAIL" (those of ``kinds``); ValueError with a
    readable message that names only what ``kinds`` accepts."""
    text = (text or "").strip()
    usage = scope_usage(kinds)
    kind, sep, ref = text.partition(":")
    ref = ref.strip()
    if kind in _USAGE and kind not in kinds:
        raise ValueError(f"{text!r}: a {kind} scope is not accepted here; use {usage}")
    if text == "company":
        return Scope.company()
    if sep and kind == "branch" and ref:
        branch_id = session.scalar(select(Branch.id).where(Branch.code == ref))
        if branch_id is None:
            codes = session.scalars(select(Branch.code).order_by(Branch.code).limit(21)).all()
            known = ", ".join(codes[:20]) + (", …" if len(codes) > 20 else "")
            raise ValueError(f"no branch with code {ref!r} (codes: {known or 'none yet'})")
        return Scope.branch(branch_id)
    if sep and kind == "rep" and ref:
        user = session.scalars(select(User).where(func.lower(User.email) == ref.lower())).first()
        if user is None:
            raise ValueError(f"no user with email {ref!r}")
        if access.is_owner(user):
            raise ValueError(f"{ref!r} is an owner, who logs no visits; use a rep or manager")
        return Scope.rep(user.id)
    raise ValueError(f"{text!r} is not a scope: use {usage}")


def scope_label(session: Session, scope: Scope) -> str:
    """The textual form parse_scope reads back ("branch:TKY", "rep:a@example.jp")."""
    if scope.kind == "branch":
        return "branch:" + (session.scalar(select(Branch.code).where(Branch.id == scope.id)) or "?")
    if scope.kind == "rep":
        return "rep:" + (session.scalar(select(User.email).where(User.id == scope.id)) or "?")
    return "company"

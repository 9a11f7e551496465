"""The rows every company starts with: visit purposes and the settings row."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import CompanySettings, Purpose

# (code, label_ja, label_en, purposeful, sort) — docs/domain.md.
DEFAULT_PURPOSES: tuple[tuple[str, str, str, bool, int], ...] = (
    ("hearing", "課題ヒアリング", "Problem hearing", True, 10),
    ("proposal", "提案・商談", "Proposal", True, 20),
    ("follow_up", "前回アクションのフォロー", "Follow-up", True, 30),
    ("relationship", "関係構築・キーマン面談", "Relationship", True, 40),
    ("routine", "定期巡回・御用聞き", "Routine round", False, 50),
    ("called", "呼ばれて対応", "Called in", False, 60),
)

DEFAULT_ACTIVE_KPIS: tuple[str, ...] = (
    "purposeful_visit_rate",
    "hearing_rate",
    "additional_proposal_rate",
    "next_action_rate",
    "follow_up_rate",
)


def ensure_defaults(session: Session, tz: ZoneInfo | None = None) -> CompanySettings:
    """Create the default purposes and the settings row where missing; returns the settings.

    In a database without visits it also starts the dormancy summary for ``tz`` (default
    Asia/Tokyo, the default ``FIELDLOG_TIMEZONE``), which every later visit keeps in step.
    """
    from ..kpi import dormancy  # the KPI package reads these defaults: import when called

    known = set(session.scalars(select(Purpose.code)))
    for code, label_ja, label_en, purposeful, sort in DEFAULT_PURPOSES:
        if code not in known:
            session.add(
                Purpose(
                    code=code,
                    label_ja=label_ja,
                    label_en=label_en,
                    purposeful=purposeful,
                    sort=sort,
                )
            )
    settings = ensure_settings(session)
    dormancy.start_if_empty(session, settings, tz or ZoneInfo("Asia/Tokyo"))
    return settings


def company_settings(session: Session) -> CompanySettings:
    """The company settings, for reading: the row, or the defaults unsaved when there is none.

    A read never writes: ``flask db upgrade`` creates the row, and writers of settings call
    ``ensure_defaults`` first (an explicit step), so nothing is inserted behind a page view.
    """
    return session.get(CompanySettings, 1) or unsaved_settings()


def ensure_settings(session: Session) -> CompanySettings:
    """The settings row for a writer of settings: inserted with the defaults when missing."""
    from ..kpi import lead_cache  # the KPI package reads these defaults: import when called

    settings = session.get(CompanySettings, 1)
    if settings is None:
        settings = unsaved_settings()
        session.add(settings)
        lead_cache.rows_changed(session, [settings])
    session.flush()
    return settings


def unsaved_settings() -> CompanySettings:
    """The settings a new company starts with, as an object not added to any session."""
    values = {}
    for column in CompanySettings.__table__.columns:
        default = column.default
        if default is None or column.primary_key:
            continue
        values[column.key] = default.arg(None) if default.is_callable else default.arg
    values["active_kpis"] = list(DEFAULT_ACTIVE_KPIS)
    return CompanySettings(id=1, **values)

"""Company defaults: a read never inserts; writers of settings ensure the row explicitly."""

from __future__ import annotations

from sqlalchemy import delete, func, select

from fieldlog.app.extensions import db
from fieldlog.kpi import choices
from fieldlog.models import CompanySettings
from fieldlog.services.defaults import DEFAULT_ACTIVE_KPIS, company_settings, ensure_settings


def _rows() -> int:
    return db.session.scalar(select(func.count()).select_from(CompanySettings))


def test_reading_settings_without_a_row_inserts_nothing(app):
    db.session.execute(delete(CompanySettings))
    settings = company_settings(db.session)
    assert settings.active_kpis == list(DEFAULT_ACTIVE_KPIS)
    assert (settings.dormant_visit_days, settings.dormant_sales_days) == (60, 90)
    assert [settings.cycle_days(rank) for rank in "ABC"] == [14, 30, 60]
    assert settings.late_entry_days == 3 and settings.kpi_why == {}
    assert settings not in db.session and not db.session.new
    db.session.flush()
    assert _rows() == 0


def test_reading_settings_returns_the_row(app):
    ensure_settings(db.session).dormant_visit_days = 45
    db.session.flush()
    assert company_settings(db.session).dormant_visit_days == 45


def test_a_writer_of_settings_creates_the_row_when_missing(app):
    db.session.execute(delete(CompanySettings))
    choices.set_rank_cycles(db.session, 7, 21, 42)
    assert _rows() == 1
    assert company_settings(db.session).cycle_days("A") == 7

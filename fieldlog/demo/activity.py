"""The demo company's history: visits, proposals, follow-ups and sales lines.

Everything is generated in memory from one seeded random generator and written with bulk
inserts. Proposal kinds are derived at the end from the generated sales, with the same rule as
``visits.derive_kind`` (docs/domain.md), so they hold whatever order things were generated in.
"""

from __future__ import annotations

import bisect
import random
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from ..kpi import deepening
from ..models import FollowUp, Proposal, Purpose, SalesLine, Visit
from ..services.visits import UPSELL_LOOKBACK_DAYS
from . import vocabulary as cat
from .people import PROFILES, Client, Company, insert_rows

PURPOSEFUL_MIX = (("hearing", 35), ("proposal", 25), ("follow_up", 25), ("relationship", 15))
ROUTINE_MIX = (("routine", 70), ("called", 30))
PROPOSAL_CHANCE = {
    "proposal": 0.85,
    "hearing": 0.25,
    "follow_up": 0.15,
    "relationship": 0.1,
    "routine": 0.04,
    "called": 0.06,
}
SALES_HISTORY_DAYS = 730  # two years, so upsell and account deepening have a past
SALES_LAG_WEEKS = 4  # the rising branch's sales follow its proposals this much later


def _pick(rng: random.Random, mix: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([k for k, _ in mix], [w for _, w in mix])[0]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _working_day(day: date, rng: random.Random) -> date:
    """Monday–Saturday, Saturdays less often than weekdays."""
    if day.weekday() == 6:
        day -= timedelta(days=1)
    if day.weekday() == 5 and rng.random() < 0.6:
        day -= timedelta(days=1)
    return day


def _at(day: date, rng: random.Random, tz: ZoneInfo) -> datetime:
    """A moment in local working hours (9:00–17:59) as an aware UTC instant."""
    local = datetime.combine(day, time(rng.randint(9, 17), rng.randint(0, 59)), tzinfo=tz)
    return local.astimezone(UTC)


class History:
    """Generates and writes the activity of one demo company."""

    def __init__(
        self,
        session: Session,
        rng: random.Random,
        company: Company,
        *,
        today: date,
        weeks: int,
        tz: ZoneInfo,
    ) -> None:
        self.session, self.rng, self.company = session, rng, company
        self.today, self.tz, self.weeks = today, tz, weeks
        self.start = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
        self.purposes = {p.code: p for p in session.scalars(select(Purpose))}
        self.profile = {p.id: PROFILES[p.profile] for p in company.people if p.profile}
        self.managers = {b: company.managers(b) for b in company.branches}
        # customer id → category code → sorted sale dates (for the upsell rule)
        self.bought: dict[int, dict[str, list[date]]] = defaultdict(lambda: defaultdict(list))
        self.counts: dict[str, int] = {}
        self.proposed: dict[int, dict[int, int]] = {}

    # ---- plan ---------------------------------------------------------------------------

    def plan(self) -> None:
        """Pick the dormant, the overdue-today and the customers who take up a new category."""
        rng, today = self.rng, self.today
        active = [c for c in self.company.clients if c.active]
        for client in rng.sample(active, max(3, len(active) // 60)):
            client.dormant_from = today - timedelta(days=rng.randint(100, 160))
        for client in rng.sample([c for c in active if c.dormant_from is None], len(active) // 25):
            client.overdue_from = today - timedelta(days=client.cycle + rng.randint(3, 20))
        codes = list(self.company.categories)
        for client in self.company.clients:
            if rng.random() < 0.25:
                new = [c for c in codes if c not in client.categories]
                since = today - timedelta(days=rng.randint(30, SALES_HISTORY_DAYS - 30))
                client.adopts.append((rng.choice(new), since))

    # ---- visits, proposals, follow-ups -------------------------------------------------

    def _proposal_ramp(self, client: Client, day: date) -> float:
        """The rising branch proposes twice as often at the end as at the start of the window."""
        if client.branch != cat.RISING_BRANCH:
            return 1.0
        week = (day - self.start).days // 7
        return 0.45 + 1.6 * week / max(1, self.weeks - 1)

    def _visit_days(self, client: Client, pace: float) -> list[date]:
        rng, last = self.rng, self.today - timedelta(days=1)
        for stop in (client.dormant_from, client.overdue_from):
            if stop is not None:
                last = min(last, stop)
        days: list[date] = []
        day = self.start + timedelta(days=rng.randint(0, max(1, int(client.cycle * pace))))
        while day <= last:
            visit_day = _working_day(day, rng)
            if visit_day >= self.start and (not days or visit_day > days[-1]):
                days.append(visit_day)
            day += timedelta(days=max(1, round(client.cycle * pace * rng.uniform(0.55, 1.15))))
        return days

    def visits(self) -> list[dict]:
        """Visits with their proposals and follow-ups; returns the proposal rows to finish."""
        rng = self.rng
        visits, proposals, follow_ups = [], [], []
        for client in self.company.clients:
            if not client.active and rng.random() < 0.5:
                continue
            habits = self.profile[client.rep_id]
            for day in self._visit_days(client, habits["pace"]):
                rep_id, profile = client.rep_id, habits
                managers = self.managers[client.branch]
                if managers and rng.random() < 0.04:  # a manager's joint visit
                    rep_id, profile = rng.choice(managers).id, PROFILES["strong"]
                purposeful = rng.random() < profile["purposeful"]
                purpose = _pick(rng, PURPOSEFUL_MIX if purposeful else ROUTINE_MIX)
                hearing = rng.random() < (profile["hearing"] if purposeful else 0.15)
                at = _at(day, rng, self.tz)
                visits.append(
                    {
                        "client_id": _uuid(rng),
                        "payload_hash": "",
                        "rep_id": rep_id,
                        "branch_id": self.company.branches[client.branch],
                        "customer_id": client.id,
                        "visited_at": at,
                        "purpose_id": self.purposes[purpose].id,
                        "purposeful": self.purposes[purpose].purposeful,
                        "purpose_note": rng.choice(cat.PURPOSE_NOTES[purpose])
                        if rng.random() < 0.6
                        else "",
                        "hearing_done": hearing,
                        "hearing_note": rng.choice(cat.HEARING_NOTES) if hearing else "",
                        "note": "",
                        "created_at": at + timedelta(minutes=rng.randint(1, 40)),
                        "updated_at": at + timedelta(minutes=rng.randint(1, 40)),
                    }
                )
                index = len(visits) - 1
                chance = PROPOSAL_CHANCE[purpose] * profile["proposal"]
                if rng.random() < min(0.95, chance * self._proposal_ramp(client, day)):
                    proposals.append(self._proposal(index, client, rep_id, day, profile))
                next_chance = profile["next"] if purposeful else 0.2
                if rng.random() < next_chance:
                    follow_ups.append(self._follow_up(index, client, rep_id, day, profile))
        visit_ids = insert_rows(self.session, Visit, visits)
        for row in proposals + follow_ups:
            row["visit_id"] = visit_ids[row.pop("visit_index")]
        self.counts.update(visits=len(visits), follow_ups=len(follow_ups))
        if follow_ups:
            self.session.execute(insert(FollowUp), follow_ups)
        return proposals

    def _proposal(
        self, index: int, client: Client, rep_id: int, day: date, profile: dict[str, float]
    ) -> dict:
        rng = self.rng
        others = [c for c in self.company.categories if c not in client.categories]
        category = rng.choice(client.categories if rng.random() < 0.45 or not others else others)
        row = {
            "visit_index": index,
            "rep_id": rep_id,
            "branch_id": self.company.branches[client.branch],
            "customer_id": client.id,
            "category": category,
            "amount": rng.choice((2, 3, 5, 8, 12, 20, 30, 50, 80)) * 10_000,
            "note": rng.choice(cat.PROPOSAL_NOTES),
            "proposed_on": day,
            "status": "open",
            "closed_on": None,
        }
        age = (self.today - day).days
        if rng.random() < min(0.85, age / 30):
            row["closed_on"] = day + timedelta(days=rng.randint(2, max(2, min(45, age))))
            row["closed_on"] = min(row["closed_on"], self.today)
            row["status"] = "won" if rng.random() < profile["win"] else "lost"
        return row

    def _follow_up(
        self, index: int, client: Client, rep_id: int, day: date, profile: dict[str, float]
    ) -> dict:
        rng, today = self.rng, self.today
        due = day + timedelta(days=rng.choice((1, 3, 7, 7, 14, 14, 30)))
        done, cancelled = None, False
        roll = rng.random()
        if due < today:
            if roll < profile["on_time"]:
                done = day + timedelta(days=rng.randint(0, (due - day).days))
            elif roll < profile["on_time"] + (1 - profile["on_time"]) * 0.5:
                late = due + timedelta(days=rng.randint(1, 10))
                done = late if late < today else None
            elif roll < profile["on_time"] + (1 - profile["on_time"]) * 0.65:
                cancelled = True
        elif roll < 0.3 and day < today:
            done = day + timedelta(days=rng.randint(0, (today - day).days - 1))
        return {
            "visit_index": index,
            "rep_id": rep_id,
            "branch_id": self.company.branches[client.branch],
            "customer_id": client.id,
            "action": rng.choice(cat.NEXT_ACTIONS),
            "due_on": due,
            "done_on": done,
            "cancelled": cancelled,
        }

    # ---- sales ---------------------------------------------------------------------------

    def _sales_factor(self, client: Client, day: date) -> float:
        """The rising branch's sales climb a few weeks behind its proposals.

        Besides the slow climb, each rep's customers buy more when that rep proposed more than
        usual SALES_LAG_WEEKS earlier, so ``kpi lead`` finds the lag in the week-to-week ups
        and downs (docs/verification.md), not only in a trend any two series share.
        """
        if client.branch != cat.RISING_BRANCH or day < self.start:
            return 1.0
        week = (day - self.start).days // 7 - SALES_LAG_WEEKS
        climb = 1.0 + 0.45 * min(1.0, max(0.0, week / max(1, self.weeks - SALES_LAG_WEEKS)))
        weekly = self.proposed.get(client.rep_id)
        if not weekly or week < 0:
            return climb
        usual = sum(weekly.values()) / max(1, len(weekly))
        extra = (weekly.get(week, 0) - usual) / max(usual, 1.0)
        return climb * max(0.3, 1.0 + 0.4 * extra)

    def sales(self, proposals: list[dict]) -> None:
        """Two years of sales lines; won proposals bring purchases in their category."""
        rng, today = self.rng, self.today
        first = today - timedelta(days=SALES_HISTORY_DAYS)
        margins = {code: margin for code, _n, _s, margin in cat.CATEGORIES}
        base = {"A": (60_000, 250_000), "B": (20_000, 90_000), "C": (5_000, 35_000)}
        gap = {"A": (10, 20), "B": (20, 40), "C": (35, 70)}
        won = defaultdict(list)
        for row in proposals:
            if row["status"] == "won":
                won[row["customer_id"]].append((row["category"], row["closed_on"], row["amount"]))
        # rep id → week index → proposals made to that rep's customers (the lead of the pilot)
        self.proposed: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        reps = {c.id: c.rep_id for c in self.company.clients}
        for row in proposals:
            week = (row["proposed_on"] - self.start).days // 7
            self.proposed[reps[row["customer_id"]]][week] += 1
        rows: list[dict] = []
        for client in self.company.clients:
            last = min(today - timedelta(days=1), client.dormant_from or today)
            streams = [(c, first) for c in client.categories] + client.adopts
            streams += [(c, closed + timedelta(days=3)) for c, closed, _a in won[client.id]]
            for category, since in streams:
                day = since + timedelta(days=rng.randint(0, gap[client.rank][1]))
                while day <= last:
                    low, high = base[client.rank]
                    amount = round(rng.uniform(low, high) * self._sales_factor(client, day), -2)
                    if rng.random() < 0.01:
                        amount = -round(amount / 4, -2)  # a return
                    margin = margins[category] + rng.uniform(-0.05, 0.05)
                    rows.append(
                        {
                            "customer_id": client.id,
                            "sold_on": day,
                            "category_id": self.company.categories[category],
                            "amount": int(amount),
                            "gross_profit": round(amount * margin) if rng.random() > 0.01 else None,
                        }
                    )
                    self.bought[client.id][category].append(day)
                    day += timedelta(days=rng.randint(*gap[client.rank]))
        rows.sort(key=lambda r: (r["sold_on"], r["customer_id"]))
        for n, row in enumerate(rows, 1):
            row["ref"] = f"DEMO-{n:07d}"
        for dates in (d for by_cat in self.bought.values() for d in by_cat.values()):
            dates.sort()
        self.session.execute(insert(SalesLine), rows)
        deepening.sales_changed(self.session, self.bought)
        self.counts["sales_lines"] = len(rows)

    def finish_proposals(self, proposals: list[dict]) -> None:
        """Derive each proposal's kind from the sales before it (docs/domain.md) and write them."""
        for row in proposals:
            dates = self.bought[row["customer_id"]].get(row["category"], [])
            on = row["proposed_on"]
            i = bisect.bisect_left(dates, on - timedelta(days=UPSELL_LOOKBACK_DAYS))
            row["kind"] = "upsell" if i < len(dates) and dates[i] < on else "cross_sell"
            row["category_id"] = self.company.categories[row.pop("category")]
        if proposals:
            self.session.execute(insert(Proposal), proposals)
        self.counts["proposals"] = len(proposals)

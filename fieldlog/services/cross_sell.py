"""Cross-sell candidates: the categories a customer's peers buy and it has not, over a year.

Peers are the active customers of the same branch and rank; the window is the year before the
day (``visits.derive_kind``'s upsell/cross-sell window). The plan's ``cross_sell`` reason and
the customer page's "what to propose next" both ask here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..app.database import money_sum
from ..kpi import buyers
from ..models import Category, Customer, SalesLine
from .visits import UPSELL_LOOKBACK_DAYS

# A cross-sell candidate: bought by at least this share of the customer's peers (same rank
# and branch), and there are at least this many peers to say so.
CROSS_SELL_MIN_SHARE = 0.5
CROSS_SELL_MIN_PEERS = 3


def lookback(day: date) -> tuple[date, date]:
    """The 365 days before ``day`` (the day excluded): the window of ``visits.derive_kind``."""
    return day - timedelta(days=UPSELL_LOOKBACK_DAYS), day - timedelta(days=1)


@dataclass
class Purchases:
    """What the active customers of some branches bought in a window, for cross-selling.

    ``sizes``: active customers per (branch, rank); ``counts``: how many of them bought each
    category, per (branch, rank, category); ``bought``: per customer asked for, each category's
    amount.
    """

    sizes: dict[tuple[int, str], int]
    counts: dict[tuple[int, str, int], int]
    bought: dict[int, dict[int, int]]


def purchases(
    session: Session, branch_ids: set[int], day: date, customer_ids: list[int]
) -> Purchases:
    """The branches' buyers per rank and category on ``day``, and these customers' purchases.

    The counts come from the category buyer summary (``kpi.buyers``: one index seek per
    customer of the branches, not their year of sales lines, which took 17-21 ms for a branch
    of 500 customers at 1M visits); only ``customer_ids``' own lines of the window are read,
    for the amounts that order what each bought.
    """
    out = Purchases({}, {}, defaultdict(dict))
    if not branch_ids:
        return out
    for branch_id, rank, n in session.execute(
        select(Customer.branch_id, Customer.rank, func.count(Customer.id))
        .where(Customer.branch_id.in_(branch_ids), Customer.active.is_(True))
        .group_by(Customer.branch_id, Customer.rank)
    ):
        out.sizes[(branch_id, rank)] = n
    out.counts.update(buyers.buyers_on(session, branch_ids, day))
    window = lookback(day)
    for k in range(0, len(customer_ids), 500):
        stmt = (
            select(SalesLine.customer_id, SalesLine.category_id, money_sum(SalesLine.amount))
            .where(
                SalesLine.customer_id.in_(customer_ids[k : k + 500]),
                SalesLine.sold_on >= window[0],
                SalesLine.sold_on <= window[1],
                SalesLine.category_id.is_not(None),
            )
            .group_by(SalesLine.customer_id, SalesLine.category_id)
        )
        for customer_id, category_id, amount in session.execute(stmt):
            out.bought[customer_id][category_id] = int(amount or 0)
    return out


@dataclass
class CrossSell:
    """A category a customer's peers buy and it has not bought in the window."""

    category: Category
    share: float
    buyers: int
    peers: int


def ranking(
    bought: Purchases,
    categories: dict[int, Category],
    branch_id: int,
    rank: str,
    active: bool,
) -> list[CrossSell]:
    """The categories at least CROSS_SELL_MIN_SHARE of a peer group buy, best first.

    The same for every customer of the group (branch, rank, and whether it is active, which
    decides whether it counts among its own peers): the plan ranks each group once and each
    customer skips what it bought (ranking per customer took ~10 ms for 300 at 1M visits).
    """
    size = bought.sizes.get((branch_id, rank), 0)
    peers = size - 1 if active else size
    if peers < CROSS_SELL_MIN_PEERS:
        return []
    found = []
    for category_id, category in categories.items():
        n = bought.counts.get((branch_id, rank, category_id), 0)
        share = n / peers
        if share >= CROSS_SELL_MIN_SHARE:
            found.append(CrossSell(category, share, n, peers))
    return sorted(found, key=lambda c: (-c.share, c.category.sort, c.category.code))


def not_bought(ranked: list[CrossSell], own: dict[int, int]) -> list[CrossSell]:
    """The ranked candidates a customer has not bought (``own``: its categories of the window)."""
    return [c for c in ranked if c.category.id not in own]


def cross_sell_candidates(
    customer: Customer,
    bought: Purchases,
    categories: dict[int, Category],
) -> list[CrossSell]:
    """Categories at least CROSS_SELL_MIN_SHARE of its peers buy and it does not; best first.

    Peers are the other active customers of the same branch and rank; the customer itself is
    never counted (it did not buy the category, so it is in neither count).
    """
    ranked = ranking(bought, categories, customer.branch_id, customer.rank, customer.active)
    return not_bought(ranked, bought.bought.get(customer.id, {}))

"""Every KPI and KGI of docs/kpi.md as data: names, why, kind, direction, unit, definition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class KpiDef:
    """One catalogue entry; ``definition`` is the exact rule the roll-up implements."""

    key: str
    name_ja: str
    name_en: str
    why_ja: str
    why_en: str
    kind: Literal["process", "result", "volume"]
    direction: Literal["up", "down"] | None
    unit: Literal["rate", "count", "yen"]
    recommended: bool
    definition: str

    def name(self, locale: str | None = None) -> str:
        """The display name in a locale (Japanese unless "en")."""
        return self.name_en if (locale or "ja").startswith("en") else self.name_ja

    def why(self, locale: str | None = None) -> str:
        """The catalogue's plain-language reason this number matters."""
        return self.why_en if (locale or "ja").startswith("en") else self.why_ja

    @property
    def is_rate(self) -> bool:
        return self.unit == "rate"


_DEFS: tuple[KpiDef, ...] = (
    KpiDef(
        "visit_count",
        "訪問件数 (参考)",
        "Visit count (reference)",
        "訪問の量の目安です。件数だけを追うと目的のない訪問が増えるため、参考として表示します。",
        "A sense of volume only: chasing the count alone breeds purposeless visits.",
        "volume",
        None,
        "count",
        False,
        "|V|: visits in scope (by the visit's own rep/branch) whose local date of visited_at in "
        "the company timezone lies in P.",
    ),
    KpiDef(
        "purposeful_visit_rate",
        "目的あり訪問率",
        "Purposeful-visit rate",
        "目的を持って訪問するほど、お客様の課題や次の商談につながります。",
        "Visits with a purpose are the ones that uncover needs and lead to business.",
        "process",
        "up",
        "rate",
        True,
        "Visits in V recorded with a purposeful purpose (the flag stored on the visit when it was "
        "recorded) / |V|.",
    ),
    KpiDef(
        "hearing_rate",
        "課題ヒアリング実施率",
        "Problem-hearing rate",
        "お客様の課題を聞けた訪問が、提案の種になります。",
        "Hearing the customer's problems is where every proposal starts.",
        "process",
        "up",
        "rate",
        True,
        "Visits in V with hearing_done / |V|.",
    ),
    KpiDef(
        "next_action_rate",
        "次回アクション設定率",
        "Next-action rate",
        "次の一手を決めて帰る訪問は、商談を前に進めます。",
        "A visit that ends with an agreed next step keeps the business moving.",
        "process",
        "up",
        "rate",
        True,
        "Visits in V that created a follow-up (FollowUp.visit_id; counted even if the follow-up "
        "was cancelled later) / |V|.",
    ),
    KpiDef(
        "proposal_count",
        "提案回数",
        "Proposals made",
        "提案した数だけ、受注の機会が生まれます。",
        "Every proposal is a chance to win new business.",
        "process",
        "up",
        "count",
        True,
        "Proposals in scope (own rep/branch) with proposed_on in P.",
    ),
    KpiDef(
        "additional_proposal_rate",
        "追加提案率",
        "Additional-proposal rate",
        "訪問したお客様に追加の提案ができているかを見ます。御用聞きから攻めの営業への指標です。",
        "Whether the customers we visit hear an extra offer: the mark of offensive route sales.",
        "process",
        "up",
        "rate",
        True,
        "Distinct customers visited in V that received an upsell or cross_sell proposal in scope "
        "with proposed_on in P / distinct customers visited in V.",
    ),
    KpiDef(
        "cross_sell_rate",
        "クロスセル率",
        "Cross-sell win rate",
        "新しいカテゴリの提案が受注できているかを見ます。",
        "Whether offers of new categories are actually won.",
        "process",
        "up",
        "rate",
        True,
        "cross_sell proposals in scope with closed_on in P and status won / those with closed_on "
        "in P and status won or lost.",
    ),
    KpiDef(
        "follow_up_rate",
        "フォロー実施率",
        "Follow-up rate",
        "約束した次回アクションを期日までに実行すると、信頼が積み上がります。",
        "Keeping the promised next step on time builds the customer's trust.",
        "process",
        "up",
        "rate",
        True,
        "Follow-ups in scope (their own rep/branch), not cancelled, with due_on in P and "
        "done_on <= due_on / follow-ups in scope, not cancelled, with due_on in P and "
        "due_on <= today (one not yet due is not yet missed). Both sides are taken "
        "literally (docs/kpi.md): one done early whose due date is still after today counts in the "
        "numerator but not yet in the denominator, so until the period's due dates have "
        "passed the numerator may exceed the denominator (a value above 1, or null with a "
        "numerator when nothing is due yet).",
    ),
    KpiDef(
        "deepening_rate",
        "取引深耕率",
        "Account-deepening rate",
        "既存のお客様に買っていただくカテゴリが広がっているかを見ます。",
        "Whether existing customers buy from more of our categories than a year before.",
        "process",
        "up",
        "rate",
        True,
        "W = the 365 days ending at P.end, W' = the 365 days before W. Customers in scope (current "
        "rep/branch, inactive included) with sales lines in W' whose count of distinct categories "
        "bought in W exceeds their count in W' / customers in scope with sales lines in W'.",
    ),
    KpiDef(
        "dormant_rate",
        "休眠顧客率 (休眠防止)",
        "Dormant-customer rate",
        "訪問も購買も途絶えたお客様を早く見つけ、離反を防ぎます。低いほど良い指標です。",
        "Spots customers we no longer visit or sell to before they leave; lower is better.",
        "process",
        "down",
        "rate",
        True,
        "Active customers in scope (current rep/branch) that, as of P.end, had no visit by anyone "
        "in the last dormant_visit_days days (never visited counts) or had sales on or before "
        "P.end but none in the last dormant_sales_days days / active customers in scope. "
        "'Last N days' = the N days ending on and including P.end (defaults 60 and 90).",
    ),
    KpiDef(
        "pipeline_count",
        "見込み案件数",
        "Open pipeline",
        "進行中の提案の数は、これからの売上の見込みです。",
        "Open proposals are tomorrow's sales.",
        "process",
        "up",
        "count",
        True,
        "Proposals in scope with proposed_on <= P.end and no closed_on on or before P.end.",
    ),
    KpiDef(
        "pipeline_amount",
        "パイプライン金額",
        "Pipeline amount",
        "進行中の提案の金額は、これからの売上の大きさを示します。",
        "The value of open proposals shows how much future sales are in play.",
        "process",
        "up",
        "yen",
        True,
        "Sum of amount of the pipeline_count proposals (a missing amount adds 0), whole yen.",
    ),
    KpiDef(
        "sales_amount",
        "売上",
        "Sales",
        "最終的な成果(KGI)です。KPIの結果として動きます。",
        "The final result (KGI) that the KPIs are meant to move.",
        "result",
        "up",
        "yen",
        False,
        "Sum of SalesLine.amount (negative lines included) of customers in scope (current "
        "rep/branch, inactive included) with sold_on in P, whole yen.",
    ),
    KpiDef(
        "gross_margin_rate",
        "粗利率",
        "Gross margin rate",
        "売上の質を示す成果(KGI)です。",
        "The quality of sales (KGI).",
        "result",
        "up",
        "rate",
        False,
        "Sum of gross_profit / sum of amount over the sales_amount lines that carry a "
        "gross_profit.",
    ),
)

KPI_KEYS: tuple[str, ...] = tuple(d.key for d in _DEFS)
CATALOGUE: dict[str, KpiDef] = {d.key: d for d in _DEFS}
RATE_KEYS: frozenset[str] = frozenset(d.key for d in _DEFS if d.unit == "rate")
KGI_KEYS: tuple[str, ...] = tuple(d.key for d in _DEFS if d.kind == "result")
"""The final goals (sales, gross margin rate) that the KPIs are meant to move."""


def unit_of(key: str | None) -> str:
    """A key's unit ("rate", "count", "yen"); a key the catalogue does not know counts."""
    return CATALOGUE[key].unit if key in CATALOGUE else "count"


def name_of(key: str | None, locale: str | None = None) -> str:
    """A key's display name in a locale; a key the catalogue does not know is shown as it is."""
    return CATALOGUE[key].name(locale) if key in CATALOGUE else str(key or "")

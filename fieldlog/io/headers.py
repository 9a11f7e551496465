"""What an export's columns are called and how wide they are, for people opening it in Excel.

The column keys (the model's English field names) stay the files' contract for the CLI and
the snapshot; the web downloads put these labels in the reader's language instead. The
Japanese labels of customers and sales are ones the import reads back (fieldlog/io/columns.py).
"""

from __future__ import annotations

import unicodedata

# key → (日本語, English); a (kind, key) entry wins over the plain key.
LABELS: dict[str | tuple[str, str], tuple[str, str]] = {
    "id": ("ID", "ID"),
    "visited_on": ("訪問日", "Visit date"),
    "visited_at": ("訪問日時", "Visit time"),
    "time_known": ("時刻あり", "Time known"),
    "customer_code": ("顧客コード", "Customer code"),
    "customer_name": ("顧客名", "Customer"),
    "rep_email": ("担当者メール", "Rep email"),
    "rep_name": ("担当者", "Rep"),
    "branch": ("支店", "Branch"),
    "purpose": ("目的コード", "Purpose code"),
    "purpose_label": ("訪問目的", "Purpose"),
    "purposeful": ("目的あり", "Purposeful"),
    "hearing_done": ("ヒアリング実施", "Hearing done"),
    "purpose_note": ("目的メモ", "Note on the purpose"),
    "hearing_note": ("ヒアリング内容", "What was heard"),
    "note": ("メモ", "Note"),
    "entered_at": ("入力日時", "Entered at"),
    "entered_days_later": ("入力までの日数", "Days until entered"),
    "received_at": ("受信日時", "Received at"),
    "saved_at": ("端末保存日時", "Saved on the phone at"),
    "source": ("入力元", "Source"),
    "late_reason": ("遅れた理由", "Reason for late entry"),
    "proposed_on": ("提案日", "Proposed on"),
    "category": ("カテゴリ", "Category"),
    "kind": ("提案種別", "Kind"),
    "amount": ("金額", "Amount"),
    "status": ("状態", "Status"),
    "closed_on": ("結果日", "Closed on"),
    "visit_id": ("訪問ID", "Visit ID"),
    "due_on": ("期日", "Due on"),
    "done_on": ("実施日", "Done on"),
    "cancelled": ("取消", "Cancelled"),
    "action": ("次回アクション", "Next action"),
    ("customers", "code"): ("顧客コード", "Customer code"),
    ("customers", "name"): ("顧客名", "Customer"),
    "name_kana": ("フリガナ", "Reading"),
    ("customers", "rep"): ("担当者", "Rep"),
    "rank": ("ランク", "Rank"),
    "visit_cycle_days": ("訪問サイクル日数", "Visit cycle (days)"),
    "address": ("住所", "Address"),
    "sold_on": ("売上日", "Sold on"),
    ("sales", "customer"): ("顧客コード", "Customer code"),
    "gross_profit": ("粗利", "Gross profit"),
    ("sales", "ref"): ("伝票番号", "Slip number"),
    "week": ("週", "Week"),
    "start": ("開始日", "Start"),
    "end": ("終了日", "End"),
    "scope": ("範囲", "Scope"),
    ("kpis", "code"): ("コード", "Code"),
    ("kpis", "name"): ("名称", "Name"),
    "kpi": ("KPIキー", "KPI key"),
    "kpi_name": ("KPI", "KPI"),
    "value": ("値", "Value"),
    "numerator": ("分子", "Numerator"),
    "denominator": ("分母", "Denominator"),
    "in_progress": ("集計中の週", "Week in progress"),
}
# Free text gets a wide column; everything else fits its header or its typical value.
WIDE = {"note", "purpose_note", "hearing_note", "action", "late_reason", "address", "name"}
TYPICAL = {"date": 11, "datetime": 17, "text": 14}
MAX_WIDTH = 50


def label(kind: str, key: str, locale: str = "ja") -> str:
    """The column's header for a reader of ``locale`` (Japanese unless English)."""
    ja, en = LABELS.get((kind, key)) or LABELS.get(key) or (key, key)
    return en if locale.startswith("en") else ja


def display_width(text: str) -> int:
    """Columns of a fixed-width cell this text fills: a full-width character counts two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def width(key: str, header: str, typical: str) -> float:
    """A column width in Excel's units (characters of the default font), with a margin."""
    base = 40 if key in WIDE or key.endswith("_name") else TYPICAL.get(typical, 12)
    return float(min(max(base, display_width(header) + 2), MAX_WIDTH))

"""Header names per kind: the model's English field names and the Japanese ones teams use."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

# Headers that name the same thing in several kinds of file.
_REP = ("rep", "rep_email", "担当者", "担当者メール", "担当者メールアドレス", "担当", "営業担当")
_CUSTOMER = ("customer", "customer_code", "顧客コード", "得意先コード", "取引先コード", "顧客")
_BRANCH = ("branch", "branch_code", "支店", "支店コード")

SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "branches": {
        "code": ("code", "branch_code", "支店コード", "支店cd", "支店番号", "コード"),
        "name": ("name", "branch_name", "支店名", "名称", "名前"),
    },
    "categories": {
        "code": (
            "code",
            "category_code",
            "カテゴリコード",
            "商品カテゴリコード",
            "分類コード",
            "コード",
        ),
        "name": (
            "name",
            "category_name",
            "カテゴリ名",
            "商品カテゴリ名",
            "分類名",
            "名称",
        ),
    },
    "users": {
        "email": ("email", "e-mail", "mail", "メールアドレス", "メール", "ログインid"),
        "name": ("name", "氏名", "名前", "社員名", "担当者名"),
        "role": ("role", "役割", "権限", "役職"),
        "branch": (*_BRANCH, "所属", "所属支店"),
        "password": ("password", "パスワード", "初期パスワード"),
    },
    "customers": {
        "code": (
            "code",
            "customer_code",
            "顧客コード",
            "得意先コード",
            "取引先コード",
            "顧客番号",
            "得意先cd",
        ),
        "name": ("name", "customer_name", "顧客名", "得意先名", "取引先名", "会社名"),
        "name_kana": (
            "name_kana",
            "kana",
            "フリガナ",
            "ふりがな",
            "カナ",
            "顧客名カナ",
            "得意先名カナ",
            "ヨミ",
            "よみがな",
        ),
        "branch": (*_BRANCH, "担当支店"),
        "rep": (*_REP, "担当営業"),
        "rank": ("rank", "ランク", "顧客ランク"),
        "visit_cycle_days": (
            "visit_cycle_days",
            "訪問サイクル",
            "訪問サイクル日数",
            "訪問周期",
            "訪問間隔",
        ),
        "address": ("address", "住所", "所在地", "顧客住所"),
    },
    "sales": {
        "sold_on": ("sold_on", "date", "売上日", "日付", "販売日", "計上日", "伝票日付", "納品日"),
        "customer": _CUSTOMER,
        "category": (
            "category",
            "category_code",
            "カテゴリ",
            "カテゴリコード",
            "商品カテゴリ",
            "分類",
            "商品分類",
        ),
        "amount": ("amount", "金額", "売上金額", "売上", "売上高", "税抜金額"),
        "gross_profit": ("gross_profit", "粗利", "粗利額", "粗利益", "荒利", "売上総利益"),
        "ref": ("ref", "伝票番号", "伝票no", "伝票行番号", "明細番号", "slip"),
    },
    "budgets": {
        "month": ("month", "年月", "月", "対象月", "計上月", "予算月"),
        "branch": (*_BRANCH, "所属支店"),
        "rep": _REP,
        "amount": ("amount", "予算", "金額", "予算金額", "売上予算", "予算額"),
    },
    "visits": {
        "visited_at": ("visited_at", "訪問日時", "訪問日", "日時", "日付", "訪問日付"),
        "rep": (*_REP, "訪問者"),
        "customer": _CUSTOMER,
        "purpose": ("purpose", "目的", "訪問目的"),
        "hearing_done": (
            "hearing_done",
            "hearing",
            "ヒアリング",
            "ヒアリング実施",
            "課題ヒアリング",
        ),
        "hearing_note": ("hearing_note", "ヒアリング内容", "ヒアリングメモ", "課題"),
        "note": ("note", "メモ", "備考", "訪問メモ", "内容"),
        "proposal_category": ("proposal_category", "提案カテゴリ", "提案商品", "提案分類"),
        "proposal_kind": ("proposal_kind", "提案種別", "提案区分"),
        "proposal_amount": ("proposal_amount", "提案金額", "見込金額", "見積金額"),
        "proposal_status": ("proposal_status", "提案状況", "提案結果", "商談状況"),
        "proposal_closed_on": ("proposal_closed_on", "成約日", "クローズ日", "受注日", "決着日"),
        "next_action": ("next_action", "次回アクション", "次のアクション"),
        "next_action_due_on": ("next_action_due_on", "期限", "次回アクション期限", "次回期限"),
        "next_action_done_on": ("next_action_done_on", "完了日", "次回アクション完了日"),
        "ref": ("ref", "行番号", "日報番号", "管理番号", "no", "no."),
    },
}

# Headers that name a different field depending on the sheet: in a list of branches, 支店 beside
# 支店名 is the code, and beside 支店コード the name (カテゴリ likewise). Each is taken, after the
# unambiguous headers, for the first of its fields that no column names yet.
CONTEXTUAL: dict[str, dict[str, tuple[str, ...]]] = {
    "branches": {"支店": ("code", "name")},
    "categories": {"カテゴリ": ("code", "name"), "分類": ("code", "name")},
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "branches": ("code", "name"),
    "categories": ("code", "name"),
    "users": ("email", "name", "role"),
    "customers": ("code", "name", "branch"),
    "sales": ("sold_on", "customer", "amount"),
    "budgets": ("month", "branch", "amount"),
    "visits": ("visited_at", "customer", "purpose", "hearing_done"),
}

_IGNORED = re.compile(r"[\s_・\-]")


def _key(header: Any) -> str:
    return _IGNORED.sub("", unicodedata.normalize("NFKC", str(header or "")).casefold())


def map_header(kind: str, header: list[Any]) -> tuple[dict[str, int], list[str]]:
    """Field → column index for a header row, and the required fields it lacks."""
    lookup = {_key(name): field for field, names in SYNONYMS[kind].items() for name in names}
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        field = lookup.get(_key(cell))
        if field is not None and field not in found:
            found[field] = index
    contextual = {_key(name): fields for name, fields in CONTEXTUAL.get(kind, {}).items()}
    for index, cell in enumerate(header):
        fields = contextual.get(_key(cell), ())
        free = [f for f in fields if f not in found]
        if free and index not in found.values():
            found[free[0]] = index
    missing = [field for field in REQUIRED[kind] if field not in found]
    return found, missing


def column_label(kind: str, field: str, header: list[Any], columns: dict[str, int]) -> str:
    """The column as the file names it, so a report speaks the file's own language."""
    index = columns.get(field)
    return str(header[index]).strip() if index is not None and header[index] else field

"""Text folding (fieldlog/rules/text.py): what forms and imports store, what search matches."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from fieldlog.app.extensions import db
from fieldlog.io import normalize
from fieldlog.rules import text
from fieldlog.services import directory

ROOT = Path(__file__).resolve().parent.parent
CASES = json.loads((ROOT / "tests" / "js" / "search_key_cases.json").read_text("utf-8"))


@pytest.mark.parametrize(("value", "key"), CASES)
def test_search_key_on_the_shared_table(value, key):
    """The table tests/js/outbox.test.mjs also runs the offline search's searchKey over."""
    assert text.search_key(value) == key


def test_search_key_joins_parts_and_skips_empty_ones():
    assert text.search_key("C-1", "青空商店", None, "アオゾラ") == "c-1青空商店あおぞら"


@pytest.mark.parametrize(
    ("value", "cleaned"),
    [
        (None, ""),
        ("  山田商店 ", "山田商店"),
        ("ＡＢＣ商事", "ABC商事"),
        ("ｱｵｿﾞﾗ", "アオゾラ"),
        ("株式会社　山田  商店", "株式会社 山田 商店"),
        ("㈱ミナト", "㈱ミナト"),  # only width forms fold: ㈱ and ① are kept as typed
        ("①番地", "①番地"),
        ("Sato\tKenta", "Sato Kenta"),
    ],
)
def test_clean(value, cleaned):
    assert text.clean(value) == cleaned


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("あおぞら しょうてん", "アオゾラ ショウテン"),
        ("ｱｵｿﾞﾗ", "アオゾラ"),
        ("ミドリカワ", "ミドリカワ"),
        ("ゔぁいおりん", "ヴァイオリン"),
        ("  やまだ　ショウテン ", "ヤマダ ショウテン"),
        ("", ""),
    ],
)
def test_reading(value, stored):
    assert text.reading(value) == stored


def test_imports_store_what_the_forms_store(make):
    """A name and a reading read the same whether typed in /admin or imported from a sheet."""
    branch = make.branch()
    for n, (value, _key) in enumerate(CASES):
        customer = directory.save_customer(
            db.session,
            None,
            code=f"T-{n}",
            name=value or "名前",
            name_kana=value,
            branch_id=branch.id,
            rep_id=None,
            rank="B",
            visit_cycle_days=None,
            active=True,
        )
        assert customer.name == normalize.text(value or "名前"), value
        assert customer.name_kana == normalize.kana(value), value


# Whole blocks where customer names and readings live: Latin, punctuation, kana, CJK, widths.
BLOCKS = [
    (0x0000, 0x024F),
    (0x0370, 0x03FF),
    (0x2000, 0x206F),
    (0x2150, 0x218F),
    (0x2460, 0x24FF),
    (0x3000, 0x30FF),
    (0x31F0, 0x31FF),
    (0x3200, 0x33FF),
    (0x4E00, 0x9FFF),
    (0xFF00, 0xFFEF),
]


def test_the_offline_search_folds_every_character_like_the_server():
    """static/js/outbox-core.mjs searchKey equals search_key on every code point of BLOCKS."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (bash .ci/test runs the JS tests with it)")
    script = (
        'import { searchKey } from "./static/js/outbox-core.mjs";\n'
        f"const blocks = {json.dumps(BLOCKS)};\n"
        "const out = [];\n"
        "for (const [lo, hi] of blocks) for (let cp = lo; cp <= hi; cp++)\n"
        "  out.push(searchKey(String.fromCodePoint(cp)));\n"
        "process.stdout.write(JSON.stringify(out));\n"
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", script],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    keys = iter(json.loads(done.stdout))
    differ = [
        f"U+{cp:04X} python {text.search_key(chr(cp))!r} js {js!r}"
        for lo, hi in BLOCKS
        for cp, js in zip(range(lo, hi + 1), keys, strict=False)
        if text.search_key(chr(cp)) != js
    ]
    assert differ == []

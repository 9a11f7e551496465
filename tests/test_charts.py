"""Charts are valid XML, carry their labels, escape them, and survive gaps and empty input."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from fieldlog.present import charts, numbers

NS = {"svg": charts.SVG_NS}
EVIL = "<script>alert(1)</script>&"

CASES = {
    "sparkline": lambda **kw: charts.sparkline(
        kw.get("values", [0.2, 0.4, None, 0.5]),
        title=kw.get("title", "目的あり訪問率"),
        target=kw.get("target"),
    ),
    "bar": lambda **kw: charts.bar_chart(
        kw.get("labels", ["佐藤", "鈴木", "高橋"]),
        kw.get("values", [3, None, 7]),
        title=kw.get("title", "提案回数"),
        target=kw.get("target"),
        target_label="目標",
    ),
    "line": lambda **kw: charts.line_chart(
        kw.get("labels", ["W44", "W45", "W46", "W47"]),
        [
            charts.Series(
                kw.get("series_name", "東京支店"), kw.get("values", [0.5, None, 0.6, 0.7])
            ),
            charts.Series("大阪支店", [0.4, 0.45, 0.5, None]),
        ],
        title=kw.get("title", "目的あり訪問率の推移"),
        target=kw.get("target"),
        target_label="目標",
        fmt=numbers.axis_percent,
    ),
    "bullet": lambda **kw: charts.bullet(
        kw.get("value", 0.6),
        kw.get("target"),
        title=kw.get("title", "次回アクション設定率"),
        value_text="60%",
        target_text="目標 70%",
    ),
}


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # noqa: S314 — our own output
    assert root.tag == f"{{{charts.SVG_NS}}}svg"
    return root


def texts(root: ET.Element) -> list[str]:
    return [node.text or "" for node in root.iter() if node.text]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_valid_xml_with_title_and_aria_label(kind):
    root = parse(CASES[kind]())
    title = root.find("svg:title", NS)
    assert title is not None and title.text
    assert root.get("aria-label") == title.text
    assert root.get("role") == "img"


@pytest.mark.parametrize("kind", sorted(CASES))
def test_labels_are_escaped(kind):
    svg = CASES[kind](title=EVIL, labels=[EVIL, "b", "c"], series_name=EVIL)
    assert "<script>" not in svg
    root = parse(svg)
    assert EVIL in texts(root) or root.get("aria-label") == EVIL
    assert not list(root.iter("script")) and not list(root.iter(f"{{{charts.SVG_NS}}}script"))


@pytest.mark.parametrize("kind", sorted(CASES))
def test_no_style_attributes_or_scripts(kind):
    svg = CASES[kind](target=0.5)
    root = parse(svg)
    for node in root.iter():
        assert "style" not in node.attrib
        assert not any(name.startswith("on") for name in node.attrib)


@pytest.mark.parametrize(
    ("kind", "expected_lines"),
    [("sparkline", 1), ("bar", 1), ("line", 1), ("bullet", 1)],
)
def test_target_is_drawn_only_when_given(kind, expected_lines):
    def target_marks(svg: str) -> int:
        return sum(
            1
            for node in parse(svg).iter(f"{{{charts.SVG_NS}}}line")
            if node.get("stroke") == charts.TARGET
        )

    assert target_marks(CASES[kind](target=0.55)) == expected_lines
    assert target_marks(CASES[kind](target=None)) == 0


@pytest.mark.parametrize(
    ("values", "runs"),
    [
        ([1, 2, 3], 1),
        ([1, None, 3, 4], 2),
        ([None, 1, 2, None], 1),
        ([1, None, 2, None, 3], 3),
        ([None, None], 0),
        ([], 0),
    ],
)
def test_null_values_leave_gaps(values, runs):
    svg = charts.sparkline(values, title="t")
    assert len(parse(svg).findall("svg:polyline", NS)) == runs
    labels = [f"W{i}" for i in range(len(values))]
    line = parse(charts.line_chart(labels, [charts.Series("s", values)], title="t"))
    assert len(list(line.iter(f"{{{charts.SVG_NS}}}polyline"))) == runs


def test_bar_chart_labels_values_and_missing_bar():
    root = parse(
        charts.bar_chart(
            ["佐藤", "鈴木", "高橋"], [3, None, 7], title="提案回数", target=5, target_label="目標"
        )
    )
    found = texts(root)
    for label in ("佐藤", "鈴木", "高橋", "3", "7", "目標 5", "—"):
        assert label in found
    bars = [r for r in root.iter(f"{{{charts.SVG_NS}}}rect") if r.get("stroke")]
    assert len(bars) == 2
    # The bar below target is hatched, the one above is solid: not colour alone.
    fills = [r.get("fill") for r in bars]
    assert fills[0].startswith("url(#hatch-") and fills[1] == charts.SERIES_COLOURS[0]


def test_line_chart_series_differ_by_dash_and_marker():
    root = parse(CASES["line"]())
    groups = root.findall("svg:g", NS)
    assert [g.find("svg:title", NS).text for g in groups] == ["東京支店", "大阪支店"]
    dashes = {p.get("stroke-dasharray") for p in groups[1].iter(f"{{{charts.SVG_NS}}}polyline")}
    assert dashes == {charts.SERIES_DASHES[1]}
    assert groups[0].find("svg:circle", NS) is not None
    assert groups[1].find("svg:polygon", NS) is not None
    assert "東京支店" in texts(root) and "0%" in texts(root)


@pytest.mark.parametrize("kind", ["bar", "line"])
def test_empty_series(kind):
    svg = CASES[kind](labels=[], values=[])
    assert "—" in texts(parse(svg))


def test_two_bar_charts_have_distinct_pattern_ids():
    a = parse(charts.bar_chart(["a"], [1], title="A", target=2))
    b = parse(charts.bar_chart(["a"], [1], title="B", target=2))
    assert a.find("svg:defs/svg:pattern", NS).get("id") != b.find("svg:defs/svg:pattern", NS).get(
        "id"
    )


def test_bullet_without_value():
    root = parse(charts.bullet(None, 0.7, title="t", value_text="–", target_text="目標 70%"))
    assert "– / 目標 70%" in texts(root)


def _tick_labels(root: ET.Element) -> list[ET.Element]:
    return [t for t in root.iter(f"{{{charts.SVG_NS}}}text") if t.get("text-anchor") == "end"]


@pytest.mark.parametrize("size", [8, 11])
def test_line_chart_tick_labels_fit_inside_the_chart(size):
    """Sales in yen ("68,440,000") used to run off the left edge: the margin follows the label."""
    root = parse(
        charts.line_chart(
            ["W46", "W47"],
            [charts.Series("売上", [61_000_000, 63_370_000])],
            title="売上",
            text_size=size,
        )
    )
    ticks = [t for t in _tick_labels(root) if t.text and t.text[0].isdigit()]
    assert len(ticks) == 3
    for tick in ticks:
        assert float(tick.get("x")) >= len(tick.text) * size * charts.CHAR_WIDTH, tick.text
        assert tick.get("font-size") == str(size)


def test_line_chart_marks_a_start_week():
    root = parse(
        charts.line_chart(
            ["W44", "W45", "W46", "W47"],
            [charts.Series("追加提案率", [0.2, 0.25, 0.3, 0.28])],
            title="追加提案率",
            fmt=numbers.axis_percent,
            mark=(2, "開始"),
        )
    )
    label = next(t for t in root.iter(f"{{{charts.SVG_NS}}}text") if t.text == "開始")
    vertical = [
        line
        for line in root.iter(f"{{{charts.SVG_NS}}}line")
        if line.get("x1") == line.get("x2") == label.get("x")
    ]
    assert len(vertical) == 1


def test_line_chart_ceiling_caps_a_rate_axis_at_100_percent():
    def top_label(**kw):
        root = parse(
            charts.line_chart(
                ["W46", "W47"],
                [charts.Series("フォロー実施率", kw.pop("values", [0.5, 1.0]))],
                title="フォロー実施率",
                fmt=numbers.axis_percent,
                **kw,
            )
        )
        return _tick_labels(root)[-1].text

    assert top_label() == "120%"  # without a ceiling the axis runs past the top value
    assert top_label(ceiling=1.0) == "100%"
    assert top_label(ceiling=1.0, values=[0.5, 1.2]) == "150%"  # never cuts a point off


@pytest.mark.parametrize(
    ("values", "ticks"),
    [
        ([0.2, 0.34], ["0%", "20%", "40%"]),
        ([51, 70.2], ["0", "40", "80"]),
        ([61_000_000, 73_100_000], ["0", "40,000,000", "80,000,000"]),
    ],
)
def test_line_chart_axis_labels_are_round_numbers(values, ticks):
    fmt = numbers.axis_percent if values[0] < 1 else numbers.count
    root = parse(
        charts.line_chart(["W46", "W47"], [charts.Series("s", values)], title="t", fmt=fmt)
    )
    assert [t.text for t in _tick_labels(root)] == ticks


def test_line_chart_labels_the_newest_week_without_crowding_it():
    labels = [f"W{n}" for n in range(32, 48)]  # 16 weeks: every other one fits
    root = parse(charts.line_chart(labels, [charts.Series("s", [0.5] * 16)], title="t"))
    shown = [t.text for t in root.iter(f"{{{charts.SVG_NS}}}text") if t.text in labels]
    assert shown == labels[1::2]  # W33 … W47: the newest is in, W46 is not crowding it


def test_lag_chart_marks_the_chosen_lag_and_dashes_unclear_intervals():
    svg = charts.lag_chart(
        [0, 1, 2],
        [1.0, None, -0.5],
        [(0.5, 1.5), None, (-1.0, 0.2)],
        title="効果 <by lag>",
        chosen=0,
        axis_label="weeks later",
    )
    root = parse(svg)
    assert root.get("aria-label") == "効果 <by lag>"
    assert len(root.findall(f".//{{{charts.SVG_NS}}}polygon")) == 1  # the chosen lag's diamond
    dashed = [
        n for n in root.iter(f"{{{charts.SVG_NS}}}line") if n.get("stroke-dasharray") == "3 2"
    ]
    assert len(dashed) == 1  # lag 2's interval contains zero
    assert "—" in svg  # lag 1 could not be estimated


def test_lag_chart_names_its_effect_unit():
    svg = charts.lag_chart(
        [0, 1],
        [1.0, 2.0],
        [(0.5, 1.5), (1.0, 3.0)],
        title="t",
        unit_label="効果の単位：提案回数 +1 あたりの円",
    )
    root = parse(svg)
    texts = [t.text for t in root.iter(f"{{{charts.SVG_NS}}}text")]
    assert "効果の単位：提案回数 +1 あたりの円" in texts
    assert root.find(f"{{{charts.SVG_NS}}}desc").text == "効果の単位：提案回数 +1 あたりの円"


def test_before_after_chart_draws_both_groups_and_marks_the_start():
    labels = [f"W{n}" for n in range(30, 42)]
    svg = charts.before_after_chart(
        labels,
        [1.0] * 6 + [3.0] * 6,
        [1.0] * 12,
        start=6,
        title="売上 <開始前後>",
        desc="比較グループ比 +2.0",
        tested_label="名古屋支店",
        comparison_label="他の支店（平均）",
        start_label="開始",
    )
    root = parse(svg)
    ns = f"{{{charts.SVG_NS}}}"
    assert root.get("aria-label") == "売上 <開始前後>"
    assert root.find(f"{ns}title").text == "売上 <開始前後>"
    assert root.find(f"{ns}desc").text == "比較グループ比 +2.0"
    series = root.findall(f"{ns}g[@class='series']")
    assert [g.find(f"{ns}title").text for g in series] == ["名古屋支店", "他の支店（平均）"]
    # The two lines differ by dash pattern, not colour alone.
    dashes = {p.get("stroke-dasharray") for g in series for p in g.iter(f"{ns}polyline")}
    assert len(dashes) == 2
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert "開始" in texts
    marks = [n for n in root.iter(f"{ns}line") if n.get("stroke-dasharray") == "2 2"]
    assert len(marks) == 1  # the start


def test_before_after_chart_without_a_start_in_view_draws_no_mark():
    svg = charts.before_after_chart(
        ["W1", "W2"],
        [1.0, 2.0],
        [None, None],
        start=5,
        title="t",
        desc="d",
        tested_label="a",
        comparison_label="b",
        start_label="開始",
    )
    assert "開始" not in svg

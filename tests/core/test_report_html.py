"""The conformance report as HTML (escaped, self-contained) and JSON (round trip)."""

import json
import re
from html.parser import HTMLParser

import pytest

from ev_chargepoints.core import paths
from ev_chargepoints.core.standard import conformance
from ev_chargepoints.core.standard.model import (
    FAIL,
    NOT_CHECKED,
    PASS,
    WARN,
    Check,
    ConformanceReport,
    Example,
    FieldErrors,
    InputSummary,
    OperatorReport,
    Reliability,
)
from ev_chargepoints.core.standard.report import load_report, render_html, report_json, write_report

EXAMPLES = paths.resource("standard", "examples")
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


class Tags(HTMLParser):
    """Every start tag and its attributes, and the text of each element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(text):
    tags = Tags()
    tags.feed(text)
    tags.close()
    return tags


def hostile_report():
    """Every data-carrying field holds markup."""
    check = Check(code="schema", title="Fields present and valid", severity=FAIL,
                  result=FAIL, count=2, message=f"bad value {IMG}", source=f"{SCRIPT}.csv",
                  field_errors=[FieldErrors(field=IMG, reason=SCRIPT, total=30,
                                            rows=list(range(1, 21)))],
                  examples=[Example(row=3, id=SCRIPT, detail=IMG)])
    rel = Reliability(scope="operator", id=SCRIPT, operator=SCRIPT, working_h=10.0,
                      down_h=1.0, evses=1, observations=3, reliability=10 / 11)
    ops = [OperatorReport(operator=SCRIPT, verdict=FAIL, reasons=[f"{IMG} failed"],
                          sources=[f"{IMG}.csv"], devices=2, sessions=5, checks=[check],
                          reliability=rel, rapid_reliability=rel,
                          device_reliability=[Reliability(scope="device", id=IMG,
                                                          operator=SCRIPT,
                                                          power_class="rapid")]),
           OperatorReport(operator=IMG, verdict=WARN, checks=[
               Check(code="stale", title="Records updated recently", severity=WARN,
                     result=WARN, count=1, message=SCRIPT)]),
           OperatorReport(operator="Plain Ltd", verdict=PASS, checks=[
               Check(code="reliability", title="Rapid", severity=FAIL, result=NOT_CHECKED)])]
    return ConformanceReport(generated_utc="2024-10-01T00:00:00Z", as_of_utc=SCRIPT,
                             period=IMG, london_check=SCRIPT,
                             inputs=[InputSummary(name=f"{SCRIPT}.csv", kind=IMG,
                                                  operators=[SCRIPT], error=IMG,
                                                  warnings=[SCRIPT])],
                             operators=ops, definitions={"x": SCRIPT},
                             timings_s={"total": 0.5})


def test_data_is_escaped_everywhere():
    text = render_html(hostile_report())
    tags = parse(text)
    names = [t for t, _ in tags.tags]
    assert "script" not in names and "img" not in names
    assert not any(k.startswith("on") for _, attrs in tags.tags for k in attrs)
    assert "<script" not in text.lower() and "<img" not in text.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in text
    # the hostile names still read as text
    shown = "".join(tags.text)
    assert SCRIPT in shown and IMG in shown


def test_self_contained_and_printable():
    text = render_html(hostile_report())
    tags = parse(text)
    assert text.startswith("<!DOCTYPE html>")
    names = {t for t, _ in tags.tags}
    assert not names & {"script", "link", "iframe", "object", "embed", "img"}
    assert not re.search(r"(src|href)\s*=\s*\"(?!#)", text)  # only in-page links
    assert "@media print" in text
    assert '<meta charset="utf-8">' in text


def test_structure():
    report = conformance.validate_files([EXAMPLES / "usage_return_check_unknown_device.csv",
                                         EXAMPLES / "device_reference_valid.csv"])
    tags = parse(render_html(report))
    headings = [t for t, _ in tags.tags if t == "h2"]
    assert len(headings) == 3 + len(report.operators)  # operators, inputs, definitions
    badges = [a["class"] for t, a in tags.tags if t == "span" and "badge" in a.get("class", "")]
    assert "badge fail" in badges and "badge pass" in badges
    shown = "".join(tags.text)
    assert "\u2717 FAIL" in shown  # text, not only colour
    assert "Example Charging Ltd" in shown and "DEV-0009" in shown
    links = [a["href"] for t, a in tags.tags if t == "a"]
    sections = [a["id"] for t, a in tags.tags if t == "section"]
    assert links == [f"#{s}" for s in sections]


def test_badges_differ_without_colour():
    text = render_html(hostile_report())
    for verdict, label in ((PASS, "PASS"), (WARN, "WARN"), (FAIL, "FAIL")):
        assert f'<span class="badge {verdict}">' in text
        assert label in text
    css = text.split("<style>")[1].split("</style>")[0]
    # filled dark, dashed and plain outline: distinct in greyscale
    assert "border: 2px dashed" in css and "background: #a4161a" in css


def test_json_round_trip(tmp_path):
    report = hostile_report()
    html_path, json_path = write_report(report, tmp_path / "out")
    assert (html_path.name, json_path.name) == ("report.html", "report.json")
    assert load_report(json_path) == report
    data = json.loads(json_path.read_text("utf-8"))
    assert data["operators"][0]["operator"] == SCRIPT
    assert data["operators"][0]["checks"][0]["field_errors"][0]["total"] == 30


def test_json_of_a_real_report_round_trips(tmp_path):
    report = conformance.validate_files([EXAMPLES / "usage_return_valid.csv",
                                         EXAMPLES / "device_reference_valid.csv"])
    again = ConformanceReport.from_dict(json.loads(report_json(report)))
    assert again == report
    assert again.operator("Example Charging Ltd").verdict == PASS


def test_json_has_no_nan():
    report = hostile_report()
    report.operators[0].reliability.reliability = float("nan")
    data = json.loads(report_json(report))
    assert data["operators"][0]["reliability"]["reliability"] is None


@pytest.mark.parametrize("verdict", [PASS, WARN, FAIL])
def test_summary_counts(verdict):
    text = render_html(hostile_report())
    assert re.search(rf'badge {verdict}">[^<]+</span> 1 operator\(s\)', text)

"""The HTML monitoring report: parsed, every section and chart present, no external URL,
no script; PNG copies of the charts; a report of a deployment with no traffic yet."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image
from tests.integration.monitor_fixtures import DEPLOYMENT, clean_frame, drifted_frame, serve
from tests.integration.registry_fixtures import configure, train_model

from monoloop.cli import main
from monoloop.monitoring import labels, monitors
from monoloop.monitoring.report_html import SECTIONS, build_report, write_report
from monoloop.registry import aliases, service
from monoloop.workspace import Workspace

T0 = 1_780_000_000.0
CHARTS = {"dist-tenure", "dist-calls", "dist-region", "dist-prediction", "drift-share",
          "drift-psi", "decay", "importance"}  # fmt: skip


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.ids: set[str] = set()
        self.charts: list[str] = []
        self.urls: list[str] = []
        self.rects = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "svg":
            self.charts.append(str(found.get("id", "")).removeprefix("chart-"))
        if tag == "rect":
            self.rects += 1
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action") and value:
                self.urls.append(value)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


@pytest.fixture
def monitored(ws: Workspace) -> Iterator[Workspace]:
    t = train_model(seed=0)
    service.register_model(
        ws, "churn", t.model, sample_input=t.x_train, holdout=t.test, target="churned"
    )
    aliases.set_alias(ws, "churn", "champion", 1)
    opened = configure(
        ws,
        {
            "deployments": {DEPLOYMENT: {"model": "churn@champion"}},
            "monitors": {
                DEPLOYMENT: {
                    "window": {"last": 200},
                    "min_rows": 50,
                    "decay": {"metric": "accuracy", "min": 0.7, "min_labels": 50},
                    "importance": {"top": 1, "min_labels": 100},
                }
            },
        },
    )
    yield opened
    opened.close()


def test_report_has_every_section_and_chart_and_no_external_url(
    monitored: Workspace, tmp_path: Path
) -> None:
    for i, frame in enumerate([clean_frame(200, seed=1), clean_frame(200, seed=2),
                               drifted_frame(200, seed=3)]):  # fmt: skip
        served = serve(monitored, frame, start=T0 + 1000 * i, prefix=f"p{i}")
        labels.attach(monitored, DEPLOYMENT, served.truth)
        monitors.run_monitors(monitored, clock=lambda i=i: T0 + 1000 * i + 900)

    written = write_report(
        monitored, DEPLOYMENT, tmp_path / "out" / "report.html", png=tmp_path / "png",
        clock=lambda: T0 + 3000,
    )  # fmt: skip
    text = (tmp_path / "out" / "report.html").read_text()
    page = parse(text)
    assert set(SECTIONS) <= page.ids
    assert set(page.charts) == CHARTS == set(written["charts"])
    assert page.urls == [] and "http://" not in text and "https://" not in text
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert page.rects > 50  # the bars and heatmap cells are really drawn
    assert "fired" in text and "churn:1" in text

    report = build_report(monitored, DEPLOYMENT, clock=lambda: T0 + 3000)
    drift_share = next(c for c in report.charts["drift"] if c.id == "drift-share")
    assert drift_share.series[0].values[-1] == pytest.approx(2 / 3)
    assert drift_share.threshold == 0.5 and len(drift_share.labels) == 3
    decay = report.charts["decay"][0]
    assert decay.threshold == 0.7 and decay.series[0].values[-1] < 0.7
    importance = report.charts["importance"][0]
    assert importance.labels[0] == "calls" and len(importance.series) == 2  # and live

    pngs = sorted(Path(p).name for p in written["png"])
    assert pngs == sorted(f"{c}.png" for c in CHARTS)
    with Image.open(tmp_path / "png" / "drift-psi.png") as image:
        assert image.format == "PNG" and image.size[0] == 1280


def test_a_report_before_any_traffic(monitored: Workspace, tmp_path: Path) -> None:
    report = build_report(monitored, DEPLOYMENT, clock=lambda: T0)
    assert report.version is None and report.latest == []
    assert "reference only" in report.notes["distributions"]
    assert [s.name for s in report.charts["distributions"][0].series] == ["reference"]
    assert report.notes["drift"] == "no results yet" and report.charts["drift"] == []
    path = tmp_path / "empty.html"
    write_report(monitored, DEPLOYMENT, path, clock=lambda: T0)
    page = parse(path.read_text())
    assert set(SECTIONS) <= page.ids and "importance" in page.charts


def test_the_cli_writes_the_report(
    monitored: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monitored, clean_frame(100, seed=1), start=T0)
    code = main.run(["-C", str(monitored.root), "monitor", "report", DEPLOYMENT,
                     "-o", "reports/r.html", "--png", "reports/png", "--json"])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0, out.err
    written = json.loads(out.out)
    assert (monitored.root / "reports" / "r.html").is_file()
    assert len(written["png"]) == len(written["charts"]) >= 5
    code = main.run(["-C", str(monitored.root), "monitor", "report", "nope"])
    assert code == 2 and "no deployment 'nope'" in capsys.readouterr().err

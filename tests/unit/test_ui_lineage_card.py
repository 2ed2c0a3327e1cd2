"""The version page's lineage graph (inline SVG: every edge an arrow, every node a link,
the same drawing for the same lineage) and its model card (Markdown as HTML, no raw HTML)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

from monoloop.registry.lineage import Lineage
from monoloop.registry.model import ModelVersion
from monoloop.tracking.model import Run
from monoloop.ui.cards import card_html
from monoloop.ui.lineage_graph import build, to_svg

RAW, TRAIN, TEST, MODEL = "b3:" + "1" * 64, "b3:" + "2" * 64, "b3:" + "3" * 64, "b3:" + "4" * 64
SHA, OLD_SHA = "a" * 40, "b" * 40


def run(rid: str, name: str, inputs: dict[str, str], outputs: dict[str, str], sha: str) -> Run:
    return Run(
        id=rid,
        name=name,
        pipeline="churn",
        stage=name.split(":")[-1],
        status="finished",
        start=float(len(inputs)),
        end=None,
        git_commit=sha,
        git_dirty=False,
        python=None,
        packages_hash=None,
        inputs=inputs,
        outputs=outputs,
    )


def trace() -> Lineage:
    prepare = run("r1", "churn:prepare", {"data/raw.csv": RAW}, {"data/train.pq": TRAIN}, OLD_SHA)
    train = run("r2", "churn:train", {"data/train.pq": TRAIN}, {"models/m.json": MODEL}, SHA)
    mv = ModelVersion(
        model="churn",
        version=3,
        created=0.0,
        actor="me",
        format="skops",
        flavor=None,
        object_id=MODEL,
        size=1,
        trusted_by=None,
        run_id="r2",
        git_commit=SHA,
        task=None,
        target=None,
        signature=None,
        metrics={},
        inputs={"data/train.pq": TRAIN, "data/holdout.pq": TEST},
        importance=None,
        card_fields={},
        profile_id=None,
        holdout_id=None,
        card_id="",
        aliases=["champion", "challenger"],
    )
    data = {"data/holdout.pq": TEST, "data/raw.csv": RAW, "data/train.pq": TRAIN}
    return Lineage(mv, data, [prepare, train], SHA, mv.aliases, ["api (primary)"])


SERVED = {"api": [("primary", "churn@champion"), ("canary", "churn@challenger")], "x": []}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


NS = "{http://www.w3.org/2000/svg}"


def test_every_edge_is_an_arrow_and_every_node_a_link() -> None:
    graph = build(trace(), SERVED)
    by_label = {n.label: n.id for n in graph.nodes}
    pairs = {(e.source, e.target) for e in graph.edges}
    expected = [
        ("data/raw.csv", "churn:prepare"),
        ("churn:prepare", "data/train.pq"),
        ("data/train.pq", "churn:train"),
        ("churn:prepare", OLD_SHA[:10]),  # ran at another commit
        ("churn:train", SHA[:10]),
        (SHA[:10], "churn v3"),
        ("data/holdout.pq", "churn v3"),  # read by no run in the trace
        ("churn v3", "@champion"),
        ("churn v3", "@challenger"),
        ("@champion", "api (primary)"),
        ("@challenger", "api (canary)"),
    ]
    assert pairs == {(by_label[a], by_label[b]) for a, b in expected}

    root = parse(to_svg(graph))
    assert root.get("role") == "group"
    assert root.find(f"{NS}title") is not None and root.find(f"{NS}desc") is not None
    assert "churn:prepare" in (root.find(f"{NS}desc").text or "")  # type: ignore[union-attr]
    paths = root.findall(f".//{NS}path[@class='edge']")
    drawn = {(p.get("data-from"), p.get("data-to")) for p in paths}
    assert drawn == pairs and len(paths) == len(graph.edges)
    assert all(p.get("marker-end") == "url(#lineage-arrow)" for p in paths)
    tips = {p.findtext(f"{NS}title") for p in paths}
    assert {"data/raw.csv read by churn:prepare", "@champion served by api (primary)"} <= tips
    assert root.find(f".//{NS}marker[@id='lineage-arrow']") is not None
    links = {a.get("data-node"): a for a in root.findall(f".//{NS}a")}
    assert set(links) == {n.id for n in graph.nodes}
    hrefs = {n.label: links[n.id].get("href") for n in graph.nodes}
    assert hrefs["churn:prepare"] == "/runs/r1"
    assert hrefs["churn v3"] == "/models/churn/versions/3"
    assert hrefs["api (primary)"] == "/deployments#dep-api"
    assert hrefs[SHA[:10]] == f"/?where=git_commit%20%3D%20%22{SHA}%22"
    assert hrefs["data/raw.csv"] == f"/objects/{RAW}?name=raw.csv"
    assert all(links[n.id].get("aria-label") for n in graph.nodes)


def test_columns_follow_the_flow_and_the_drawing_is_deterministic() -> None:
    graph = build(trace(), SERVED)
    layer = {n.label: n.layer for n in graph.nodes}
    assert layer["data/raw.csv"] < layer["churn:prepare"] < layer["data/train.pq"]
    assert layer["data/train.pq"] < layer["churn:train"] < layer[SHA[:10]] < layer["churn v3"]
    assert layer["churn v3"] < layer["@champion"] < layer["api (primary)"]
    assert layer["data/holdout.pq"] == layer["churn v3"] - 1, "a source sits by its consumer"
    assert to_svg(build(trace(), SERVED)) == to_svg(graph)


def test_a_version_without_runs_or_aliases_is_a_small_graph() -> None:
    mv = replace(trace().version, run_id=None, aliases=[])
    bare = Lineage(mv, {}, [], SHA, [], [])
    graph = build(bare, SERVED)
    assert [n.kind for n in graph.nodes] == ["commit", "version"]
    assert [(e.source, e.target) for e in graph.edges] == [("n0", "n1")]
    parse(to_svg(graph))


def test_a_card_renders_as_html_with_no_raw_html() -> None:
    card = (
        "# Model card: churn version 3\n\n## Intended use\n\nrank *customers*\n\n"
        "<script>alert(1)</script>\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "[bad](javascript:alert(1)) [good](https://example.org/) "
        "![chart](https://example.org/c.png)\n"
    )
    html = str(card_html(card))
    assert "<h3>Model card: churn version 3</h3>" in html  # headings move under the page's
    assert "<h4>Intended use</h4>" in html and "<em>customers</em>" in html
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<table>" in html and "<td>2</td>" in html
    assert 'href="javascript' not in html and '<a href="https://example.org/">good</a>' in html
    assert "<img" not in html and 'href="https://example.org/c.png"' in html

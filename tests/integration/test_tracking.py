"""Tracking service on both metadata databases: runs, metrics, search, and the audit trail."""

from __future__ import annotations

import math
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monoloop.audit import service as audit
from monoloop.errors import Conflict, InvalidInput, NotFound
from monoloop.tracking import service as tracking
from monoloop.tracking.model import Run
from monoloop.tracking.where import And, Compare, Expr, Field, Not, Or, evaluate, unparse
from monoloop.workspace import Workspace

B3 = "b3:" + "0" * 64


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True
    ).stdout


def kinds(ws: Workspace, subject: str) -> list[str]:
    return [e.kind for e in audit.log(ws, audit.EventFilter(subject=subject))]


def test_a_run_records_code_environment_params_and_lineage(ws: Workspace) -> None:
    (ws.root / "train.py").write_text("print('hi')\n")
    git(ws.root, "add", "train.py")
    git(ws.root, "commit", "-q", "-m", "code")
    head = git(ws.root, "rev-parse", "HEAD").strip()
    params: dict[str, Any] = {"lr": 0.1, "epochs": 3, "model": "rf", "layers": [64, 32]}
    params |= {"flag": True, "none": None, "big": 2**60}
    run_id = tracking.create_run(
        ws,
        name="baseline",
        pipeline="train",
        stage="fit",
        tags={"team": "vision"},
        params=params,
        inputs={"data/train.csv": B3},
    )
    run = tracking.get_run(ws, run_id[:6])
    assert (run.id, run.name, run.status, run.end) == (run_id, "baseline", "running", None)
    assert (run.pipeline, run.stage, run.git_commit, run.git_dirty) == ("train", "fit", head, False)
    assert run.python and run.python.startswith("CPython 3.")
    assert run.packages_hash and run.packages_hash.startswith("b3:")
    assert run.params == dict(sorted(params.items()))
    assert all(type(run.params[k]) is type(v) for k, v in params.items())
    assert run.tags == {"team": "vision"} and run.inputs == {"data/train.csv": B3}

    (ws.root / "train.py").write_text("print('changed')\n")
    second = tracking.get_run(ws, tracking.create_run(ws))
    assert second.git_dirty is True and second.name is None

    tracking.log_params(ws, run_id, {"lr": 0.2, "extra": "x"})
    tracking.set_tags(ws, run_id, {"team": "nlp", "phase": "dev"})
    model = ws.root / "model.bin"
    model.write_bytes(b"weights")
    art = tracking.log_artifact(ws, run_id, model)
    tree = ws.root / "report"
    tree.mkdir()
    (tree / "a.txt").write_text("a")
    tree_id = tracking.log_artifact(ws, run_id, tree, name="report-dir")
    assert ws.objects.get(art) == b"weights"
    tracking.finish_run(ws, run_id, outputs={"model.bin": art}, log_id=B3)
    done = tracking.get_run(ws, run_id)
    assert done.status == "finished" and done.end is not None and done.end >= done.start
    assert done.params["lr"] == 0.2 and done.params["extra"] == "x"
    assert done.tags == {"phase": "dev", "team": "nlp"}
    assert {k: (a.id, a.kind) for k, a in done.artifacts.items()} == {
        "model.bin": (art, "file"),
        "report-dir": (tree_id, "dir"),
    }
    assert done.outputs == {"model.bin": art} and done.log_id == B3
    as_json = done.to_dict()
    assert as_json["status"] == "finished" and as_json["start"].endswith("Z")
    assert kinds(ws, run_id) == [
        "run.start",
        "run.params",
        "run.tags",
        "run.artifact",
        "run.artifact",
        "run.finish",
    ]
    start = audit.log(ws, audit.EventFilter(subject=run_id, kind="run.start"))[0]
    assert start.payload["params"]["lr"] == 0.1 and start.payload["git_commit"] == head


def test_finishing_rules_and_missing_runs(ws: Workspace) -> None:
    run_id = tracking.create_run(ws, run_id="ab" * 16)
    assert run_id == "ab" * 16
    with pytest.raises(Conflict, match="already exists"):
        tracking.create_run(ws, run_id=run_id)
    with pytest.raises(InvalidInput, match="cannot finish with status 'done'"):
        tracking.finish_run(ws, run_id, status="done")
    tracking.finish_run(ws, run_id, status="failed", error="boom")
    assert tracking.get_run(ws, run_id).error == "boom"
    with pytest.raises(Conflict, match="already failed"):
        tracking.finish_run(ws, run_id, status="killed")
    ghost = "cd" * 16
    for call in (
        lambda: tracking.log_metrics(ws, ghost, {"a": 1.0}),
        lambda: tracking.log_params(ws, ghost, {"a": 1}),
        lambda: tracking.finish_run(ws, ghost),
        lambda: tracking.get_run(ws, ghost),
    ):
        with pytest.raises(NotFound, match=f"no run with id '?{ghost}"):
            call()
    with pytest.raises(InvalidInput, match="not a run id"):
        tracking.log_metrics(ws, "nope", {"a": 1.0})
    with pytest.raises(InvalidInput, match="must be a number"):
        tracking.log_metrics(ws, run_id, {"a": "high"})  # type: ignore[dict-item]
    with pytest.raises(InvalidInput, match="invalid metric key"):
        tracking.log_metrics(ws, run_id, {"": 1.0})
    with pytest.raises(InvalidInput, match="step must be a non-negative integer"):
        tracking.log_metrics(ws, run_id, {"a": 1.0}, step=-1)
    with pytest.raises(InvalidInput, match="not a content id"):
        tracking.create_run(ws, inputs={"x": "abc"})
    # Nothing half-written: the failed calls left exactly the one run.
    assert [r.id for r in tracking.search_runs(ws)] == [run_id]


def test_prefixes_resolve_or_say_why_not(ws: Workspace) -> None:
    a = tracking.create_run(ws, run_id="abcdef" + "0" * 26)
    tracking.create_run(ws, run_id="abcdef" + "1" * 26)
    assert tracking.get_run(ws, "abcdef0").id == a
    with pytest.raises(InvalidInput, match="ambiguous") as caught:
        tracking.get_run(ws, "abcdef")
    assert caught.value.hint == "give more digits of the id"
    with pytest.raises(NotFound):
        tracking.get_run(ws, "fedcba")
    with pytest.raises(InvalidInput, match="not a run id or id prefix") as short:
        tracking.get_run(ws, "abc")
    assert "at least 6 hex digits" in (short.value.hint or "")


def test_metric_steps_history_and_latest(ws: Workspace) -> None:
    run_id = tracking.create_run(ws)
    tracking.log_metrics(ws, run_id, {"loss": 3.0, "acc": 0.1})
    tracking.log_metrics(ws, run_id, {"loss": 2.0})
    tracking.log_metrics(ws, run_id, {"loss": 9.0}, step=10)
    tracking.log_metrics(ws, run_id, {"loss": 1.5}, step=5)
    now = time.time()
    tracking.log_metric_batch(
        ws,
        run_id,
        [("loss", 1.0, None, now), ("loss", 8.0, 10, now), ("acc", math.nan, None, now)],
    )
    steps = [(s, v) for s, v, _ in tracking.metric_history(ws, run_id[:8], "loss")]
    assert steps == [(0, 3.0), (1, 2.0), (5, 1.5), (10, 8.0), (11, 1.0)]
    acc = tracking.metric_history(ws, run_id, "acc")
    assert acc[0][:2] == (0, 0.1) and acc[1][0] == 1 and math.isnan(acc[1][1])
    metrics = tracking.get_run(ws, run_id).metrics
    assert metrics["loss"] == 1.0 and math.isnan(metrics["acc"])
    # An older step logged later does not replace the latest value.
    tracking.log_metrics(ws, run_id, {"loss": 0.5}, step=2)
    assert tracking.get_run(ws, run_id).metrics["loss"] == 1.0
    assert tracking.metric_history(ws, run_id, "missing") == []
    assert kinds(ws, run_id) == ["run.start"], "metric points are not audited one by one"


# Search: the SQL on each database agrees with the Python meaning of the language -------

POOL_TEXT = ["rf", "gb", "RF", "x", "", "0.1", "a*b", "é"]
POOL_NUM = [0.0, 0.1, 1.0, 2.5, -1.0, 3.0, 1e-3]


def _populate(ws: Workspace, n: int = 30) -> list[Run]:
    rng = random.Random(7)
    for i in range(n):
        params: dict[str, Any] = {}
        if rng.random() < 0.8:
            params["lr"] = rng.choice([*POOL_NUM, "0.1", "auto"])
        if rng.random() < 0.8:
            params["model"] = rng.choice(POOL_TEXT)
        tags = {"team": rng.choice(POOL_TEXT)} if rng.random() < 0.6 else {}
        run_id = tracking.create_run(
            ws,
            name=rng.choice([None, f"sweep-{i}", f"base{i}", "x"]),
            stage=rng.choice([None, "fit", "eval"]),
            params=params,
            tags=tags,
        )
        metrics = {
            k: rng.choice([*POOL_NUM, math.nan]) for k in ("acc", "loss") if rng.random() < 0.7
        }
        if metrics:
            tracking.log_metrics(ws, run_id, metrics)
        if rng.random() < 0.5:
            tracking.finish_run(ws, run_id, status=rng.choice(["finished", "failed"]))
    return tracking.search_runs(ws, limit=1000)


@st.composite
def _comparisons(draw: st.DrawFn) -> Compare:
    ns = draw(st.sampled_from(["metrics", "params", "tags", "run"]))
    key = draw(
        st.sampled_from(
            {
                "metrics": ["acc", "loss", "f1"],
                "params": ["lr", "model", "none"],
                "tags": ["team", "other"],
                "run": ["status", "name", "stage", "start", "end"],
            }[ns]
        )
    )
    numeric = ns == "metrics" or key in ("start", "end") or (ns == "params" and draw(st.booleans()))
    ops = ["=", "!=", "<", "<=", ">", ">="] + ([] if numeric else ["~", "!~"])
    op = draw(st.sampled_from(ops))
    if numeric:
        value: float | str = draw(st.sampled_from([*POOL_NUM, 1e12, 2e9]))
    elif op in ("~", "!~"):
        value = draw(st.sampled_from(["sweep*", "*", "?", "r?", "a*b", "*e*", "[x]"]))
    else:
        value = draw(st.sampled_from([*POOL_TEXT, "finished", "fit", "sweep-3"]))
    return Compare(Field(ns, key), op, value)


_expressions = st.recursive(
    _comparisons(),
    lambda inner: st.one_of(
        st.builds(And, inner, inner), st.builds(Or, inner, inner), st.builds(Not, inner)
    ),
    max_leaves=5,
)


def _by_metric(everything: list[Run], key: str) -> list[str]:
    """Runs with the metric by value (then id), descending; then the rest, newest first."""
    have = [r for r in everything if not math.isnan(r.metrics.get(key, math.nan))]
    lacking = [r for r in everything if r not in have]
    have.sort(key=lambda r: (r.metrics[key], r.id), reverse=True)
    lacking.sort(key=lambda r: (r.start, r.id), reverse=True)
    return [r.id for r in have + lacking]


def test_search_agrees_with_the_python_meaning_of_every_filter(ws: Workspace) -> None:
    everything = _populate(ws)
    assert len(everything) == 30
    by_acc = _by_metric(everything, "acc")

    @settings(
        max_examples=120,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(_expressions)
    def check(expr: Expr) -> None:
        text = unparse(expr)
        found = {r.id for r in tracking.search_runs(ws, where=text, limit=1000)}
        assert found == {r.id for r in everything if evaluate(expr, r)}, text
        ordered = tracking.search_runs(ws, where=text, order_by="-metrics.acc", limit=1000)
        assert [r.id for r in ordered] == [i for i in by_acc if i in found], text

    check()


def test_ordering_and_pages(ws: Workspace) -> None:
    everything = _populate(ws)
    full = [r.id for r in tracking.search_runs(ws, order_by="-metrics.acc", limit=1000)]
    assert full == _by_metric(everything, "acc")
    assert [r.id for r in tracking.search_runs(ws, order_by="metrics.acc desc")] == full
    pages = [
        r.id
        for offset in range(0, 30, 7)
        for r in tracking.search_runs(ws, order_by="-metrics.acc", limit=7, offset=offset)
    ]
    assert pages == full
    newest = [r.id for r in tracking.search_runs(ws, limit=1000)]
    assert newest == [r.id for r in sorted(everything, key=lambda r: (r.start, r.id))][::-1]
    by_lr = tracking.search_runs(ws, order_by="params.lr", limit=1000)
    numbers = [r.params["lr"] for r in by_lr if isinstance(r.params.get("lr"), float | int)]
    assert numbers == sorted(numbers)
    kinds_seen = ["n" if isinstance(r.params.get("lr"), float | int) else "s" for r in by_lr]
    assert kinds_seen == sorted(kinds_seen), "numbers first, then text, then runs without it"
    filtered = tracking.search_runs(ws, where="metrics.acc >= 1", order_by="-metrics.acc")
    assert [r.id for r in filtered] == [i for i in full if i in {r.id for r in filtered}]
    assert all(r.metrics["acc"] >= 1 for r in filtered)
    with pytest.raises(InvalidInput, match="limit must be"):
        tracking.search_runs(ws, limit=0)
    with pytest.raises(InvalidInput, match="position"):
        tracking.search_runs(ws, where="metrics.acc >")

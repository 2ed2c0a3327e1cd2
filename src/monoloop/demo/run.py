"""The demo as a list of steps, each checked: a step that misbehaves fails the whole demo.

At this stage it shows: a workspace in a fresh Git repository, data in the
content-addressed store, a tracked pipeline that trains and registers a model, gates,
promotion, lineage, and the tamper-evident audit ledger.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

from monoloop import gitutil
from monoloop.audit import anchors, service
from monoloop.config import ENV_ACTOR, ENV_DB_URL, ENV_STORE_URL
from monoloop.demo.data import write_customers, write_events
from monoloop.demo.project import write_project
from monoloop.errors import MonoloopError, UserError
from monoloop.store.db import Database
from monoloop.validation import PiiKey
from monoloop.workspace import Workspace, init_workspace, open_workspace


class DemoFailed(MonoloopError):
    """A demo step did not do what it should."""


@dataclass
class Step:
    name: str
    ok: bool
    detail: str
    seconds: float


@dataclass
class DemoReport:
    directory: Path
    kept: bool
    steps: list[Step] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "kept": self.kept,
            "steps": [s.__dict__ for s in self.steps],
            "summary": self.summary,
        }


OnStep = Callable[[Step], None]
DEMO_ENV = {ENV_ACTOR: "demo@monoloop.local"}  # the embedded default: no DB or store overrides


class _Runner:
    def __init__(self, report: DemoReport, on_step: OnStep) -> None:
        self.report = report
        self.on_step = on_step

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[list[str]]:
        """Run one step; the block appends its one-line outcome to the yielded list."""
        detail: list[str] = []
        start = time.perf_counter()
        try:
            yield detail
        except MonoloopError as error:
            self._finish(name, False, error.message, start)
            raise DemoFailed(
                f"demo step '{name}' failed: {error.message}", hint=error.hint
            ) from error
        self._finish(name, True, "; ".join(detail), start)

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            raise DemoFailed(message)

    def _finish(self, name: str, ok: bool, detail: str, start: float) -> None:
        step = Step(name, ok, detail, round(time.perf_counter() - start, 3))
        self.report.steps.append(step)
        self.on_step(step)


def run_demo(directory: Path | None = None, *, keep: bool = False, on_step: OnStep) -> DemoReport:
    """Run every step in a new Git repository; remove it afterwards unless kept or user-given."""
    if directory is not None:
        directory = directory.resolve()
        if directory.exists() and any(directory.iterdir()):
            raise UserError(
                f"{directory} is not empty", hint="give a new or empty directory to --dir"
            )
        directory.mkdir(parents=True, exist_ok=True)
        keep = True
    else:
        directory = Path(tempfile.mkdtemp(prefix="monoloop-demo-"))
    report = DemoReport(directory, keep)
    try:
        with _embedded_defaults():
            _steps(_Runner(report, on_step), directory / "churn")
    finally:
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)
    return report


@contextlib.contextmanager
def _embedded_defaults() -> Iterator[None]:
    """The demo runs on its own SQLite DB and local store, whatever the environment says."""
    saved = {k: os.environ.pop(k) for k in (ENV_DB_URL, ENV_STORE_URL) if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _steps(run: _Runner, repo: Path) -> None:
    with run.step("create a Git repository") as say:
        repo.mkdir()
        gitutil.init(repo)
        gitutil.git(["config", "user.email", "demo@monoloop.local"], repo)
        gitutil.git(["config", "user.name", "monoloop demo"], repo)
        say.append(str(repo))

    with run.step("monoloop init") as say:
        result = init_workspace(repo, env=DEMO_ENV)
        run.check((repo / "monoloop.yaml").is_file(), "monoloop.yaml was not written")
        again = init_workspace(repo, env=DEMO_ENV)
        run.check(not again.changed, "a second init changed the workspace")
        say.append(f"created {', '.join(result.created)}; a second init changed nothing")

    ws = open_workspace(repo, env=DEMO_ENV)
    with ws:
        key = _data_steps(run, ws, repo)
    write_project(repo)
    gitutil.git(["add", "-A"], repo)
    gitutil.git(["commit", "-q", "-m", "Churn pipeline"], repo)
    ws = open_workspace(repo, env=DEMO_ENV)  # monoloop.yaml now has the pipeline
    with ws:
        _pipeline_steps(run, ws, repo)
        _registry_steps(run, ws, repo)
    from monoloop.demo.operate import operate_steps

    operate_steps(run, repo, key, DEMO_ENV)
    with open_workspace(repo, env=DEMO_ENV) as ws:
        _audit_steps(run, ws)


def _data_steps(run: _Runner, ws: Workspace, repo: Path) -> PiiKey:
    import monoloop.data as data

    with run.step("generate churn data (fixed seed)") as say:
        write_customers(repo / "data" / "customers.csv")
        write_events(repo / "data" / "events")
        size = (repo / "data" / "customers.csv").stat().st_size
        say.append(f"data/customers.csv ({size:,} bytes), data/events/ (5 files)")

    key = _validation_steps(run, ws, repo)

    with run.step("monoloop data add: version the data beside the code") as say:
        added = data.add("data/customers.csv", "data/events", workspace=repo)
        run.check(all(a.changed for a in added), "data add did not track the data")
        gitutil.git(["add", "-A"], repo)
        gitutil.git(["commit", "-q", "-m", "Track churn data with monoloop"], repo)
        run.report.summary["data"] = {a.path: f"{a.id[:19]}… ({a.files} files)" for a in added}
        say.append(", ".join(f"{a.pointer}" for a in added) + " committed to Git")

    with run.step("monoloop data status") as say:
        found = {s.path: s.state for s in data.status(workspace=repo)}
        run.check(set(found.values()) == {"unchanged"}, f"unexpected status: {found}")
        say.append(", ".join(f"{p}: {s}" for p, s in found.items()))

    remote = repo.parent / "remote-store"
    with run.step("monoloop data push to a remote") as say:
        config = repo / "monoloop.yaml"
        config.write_text(
            config.read_text()
            .replace("remotes: {}", f"remotes:\n  origin: file://{remote}")
            .replace("default_remote: null", "default_remote: origin")
        )
        gitutil.git(["commit", "-q", "-am", "Add the data remote"], repo)
        pushed = data.push(workspace=repo)
        run.check(pushed.transferred > 0 and not pushed.missing, "push transferred nothing")
        say.append(f"{pushed.transferred} objects to {remote}")

    with run.step("fresh clone + monoloop data pull: byte-identical") as say:
        clone = repo.parent / "clone"
        gitutil.git(["clone", "-q", str(repo), str(clone)], repo.parent)
        init_workspace(clone, env=DEMO_ENV)
        pulled = data.pull(workspace=clone)
        same = filecmp.dircmp(clone / "data" / "events", repo / "data" / "events")
        run.check(not (same.diff_files or same.left_only or same.right_only), "pull differs")
        run.check(
            filecmp.cmp(clone / "data" / "customers.csv", repo / "data" / "customers.csv", False),
            "customers.csv differs after pull",
        )
        say.append(f"{pulled.transferred} objects fetched and verified, data checked out")
    return key


def _validation_steps(run: _Runner, ws: Workspace, repo: Path) -> PiiKey:
    import secrets

    from monoloop.validation import check, fix, infer

    data = repo / "data" / "customers.csv"
    contract = repo / "contracts" / "customers.yaml"
    with run.step("data contract inferred; PII found in free text") as say:
        infer(ws, data, output=contract)
        report = check(ws, data, contract)
        findings = report.pii.findings if report.pii else []
        kinds = sorted({f.kind for f in findings if f.column == "notes"})
        run.check(not report.ok and {"email", "phone"} <= set(kinds), f"PII not caught: {kinds}")
        say.append(
            f"{report.rows:,} rows; notes holds {', '.join(kinds)} "
            f"({sum(f.cells for f in findings):,} cells): the contract forbids it"
        )

    with run.step("pseudonymise PII with a keyed hash, validate again") as say:
        contract.write_text(contract.read_text().replace("pii: forbid", "pii: pseudonymize"))
        # A demo key, made for this run: a real one lives in a secret store.
        key = PiiKey(secrets.token_hex(32))
        clean = data.with_name("customers.pz.csv")
        fixed = fix(ws, data, contract, output=clean, key=key)
        clean.replace(data)
        report = check(ws, data, contract)
        run.check(report.ok, "the pseudonymised data still fails its contract")
        run.report.summary["validation"] = {
            "contract": "contracts/customers.yaml",
            "pii": f"{fixed.cells:,} cells of {', '.join(fixed.columns)} pseudonymised",
        }
        say.append(f"{report.rows:,} rows pass {len(report.rules)} rules; no raw PII left")
    return key


def _pipeline_steps(run: _Runner, ws: Workspace, repo: Path) -> None:
    from monoloop.pipelines.service import run_pipeline
    from monoloop.tracking.service import get_run, metric_history

    with run.step("pipeline as code: prepare -> train -> evaluate") as say:
        first = run_pipeline(ws, "churn")
        statuses = {s.stage: s.status for s in first.stages}
        run.check(first.ok and set(statuses.values()) == {"ran"}, f"pipeline: {statuses}")
        evaluate = next(s for s in first.stages if s.stage == "evaluate")
        metrics = evaluate.metrics.get("metrics.json", {})
        run.check(metrics.get("auc", 0) > 0.6, f"the model is no better than chance: {metrics}")
        run.report.summary["metrics"] = metrics
        say.append(f"3 stages ran, each a tracked run; metrics {metrics}")

    with run.step("tracked runs: params, metrics by step, lineage") as say:
        train = next(s for s in first.stages if s.stage == "train")
        record = get_run(ws, train.run_id or "")
        history = metric_history(ws, record.id, "train.loss")
        run.check(len(history) == 60, f"expected 60 loss points, found {len(history)}")
        run.check(history[-1][1] < history[0][1], "the training loss did not fall")
        run.check(bool(record.git_commit), "the run did not record its Git commit")
        say.append(
            f"run {record.id[:8]}: loss {history[0][1]:.3f} -> {history[-1][1]:.3f} over "
            f"60 steps, commit {record.git_commit and record.git_commit[:8]}, "
            f"{len(record.inputs)} inputs by content id"
        )

    with run.step("re-run: nothing changed, nothing runs") as say:
        again = run_pipeline(ws, "churn")
        statuses = {s.stage: s.status for s in again.stages}
        run.check(set(statuses.values()) == {"skipped"}, f"a cached stage ran again: {statuses}")
        run.check((repo / "monoloop.lock").is_file(), "monoloop.lock was not written")
        say.append("all 3 stages skipped by content-addressed cache keys; monoloop.lock written")


def _registry_steps(run: _Runner, ws: Workspace, repo: Path) -> None:
    from monoloop.registry import aliases, gates
    from monoloop.registry.card import current_card
    from monoloop.registry.lineage import lineage
    from monoloop.registry.versions import get_version
    from monoloop.tracking.service import search_runs

    with run.step("model registry: the train stage registered churn:1") as say:
        mv = get_version(ws, "churn:1")
        (train,) = search_runs(ws, where='stage = "train"', limit=1)
        run.check(mv.run_id == train.id, "the version does not record its training run")
        run.check(mv.signature is not None and len(mv.signature.inputs) == 5, "no signature")
        run.check(bool(mv.importance) and mv.profile_id is not None, "no importance or profile")
        top = mv.importance[0]["feature"] if mv.importance else "-"
        say.append(
            f"{mv.format}, {mv.size:,} bytes, auc {mv.metrics['auc']:.3f}, "
            f"top feature {top}, signature of 5 columns, reference profile, "
            f"{len(mv.inputs)} inputs by content id"
        )

    with run.step("check the gates (monoloop check)") as say:
        report = gates.check(ws, "churn", 1, against="champion")
        run.check(report.passed, f"churn:1 failed its gates: {report.to_dict()['results']}")
        say.append(", ".join(f"{r.gate}: {r.status}" for r in report.results))

    with run.step("promote churn:1 to champion") as say:
        move, _ = aliases.promote(ws, "churn", 1, to="champion")
        run.check(get_version(ws, "churn@champion").version == 1, "champion did not move")
        say.append(f"churn@champion -> v{move.version}")

    with run.step("a worse challenger is stopped by its gates") as say:
        worse = _register_worse_model(ws, repo)
        try:
            aliases.promote(ws, "churn", worse.version, to="champion")
        except gates.GatesFailed as failed:
            say.append(f"churn:{worse.version} (auc {worse.metrics['auc']:.3f}): {failed.message}")
        else:
            raise DemoFailed("a model trained on shuffled labels passed the gates")
        run.check(get_version(ws, "churn@champion").version == 1, "the champion changed")

    with run.step("lineage of the champion") as say:
        found = lineage(ws, "churn@champion")
        run.check("data/customers.csv" in found.data, f"lineage misses the raw data: {found.data}")
        stages = [r.stage for r in found.runs]
        run.check(stages == ["prepare", "train"], f"lineage runs: {stages}")
        kinds = {e.kind for e in found.events}
        run.check({"model.register", "model.promote"} <= kinds, f"lineage events: {kinds}")
        card = repo / "reports" / "churn-model-card.md"
        card.parent.mkdir(exist_ok=True)
        card.write_text(current_card(ws, "churn@champion"), encoding="utf-8")
        champion = get_version(ws, "churn@champion")
        run.report.summary["models"] = {
            "champion": f"churn:1 (auc {champion.metrics['auc']:.3f})",
            "rejected": f"churn:{worse.version} (auc {worse.metrics['auc']:.3f}): failed gates",
            "model card": str(card),
        }
        say.append(
            "data/customers.csv -> prepare -> train -> commit "
            f"{(found.commit or '')[:8]} -> churn:1 -> champion; {len(found.events)} events"
        )


def _register_worse_model(ws: Workspace, repo: Path) -> Any:
    """A model trained on shuffled labels: it must never become the champion."""
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped]
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from monoloop.registry.service import register_model

    train = pd.read_parquet(repo / "data" / "train.parquet")
    test = pd.read_parquet(repo / "data" / "test.parquet")
    features = train.drop(columns=["churned"])
    shuffled = np.random.default_rng(1).permutation(train["churned"].to_numpy())
    model = make_pipeline(
        ColumnTransformer(
            [
                ("num", StandardScaler(), ["tenure_months", "monthly_charges", "support_tickets"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan", "region"]),
            ]
        ),
        LogisticRegression(),
    ).fit(features, shuffled)
    return register_model(
        ws,
        "churn",
        model,
        sample_input=features.head(200),
        holdout=test,
        target="churned",
        card={"intended_use": "a demo of a failing gate", "owner": "demo@monoloop.local"},
    )


def _audit_steps(run: _Runner, ws: Workspace) -> None:
    with run.step("audit log") as say:
        found = service.log(ws)
        kinds = sorted({e.kind for e in found})
        run.check(len(found) >= 4, f"expected at least 4 audit events, found {len(found)}")
        run.report.summary["events"] = len(found)
        say.append(f"{len(found)} events ({', '.join(kinds)}) by {found[-1].actor}")

    with run.step("anchor the ledger head in Git") as say:
        anchored = service.anchor(ws)
        run.report.summary["anchor"] = anchored.tag
        say.append(f"tag {anchored.tag} at seq {anchored.seq}")

    with run.step("audit verify") as say:
        verdict = service.verify(ws)
        run.check(verdict.ok, f"the audit chain does not verify: {verdict.problem}")
        run.check(len(verdict.anchors_checked) == 1, "the Git anchor was not checked")
        run.report.summary["chain_verified"] = True
        say.append(f"{verdict.count} events intact, 1 Git anchor agrees")

    with run.step("tamper with a copy of the DB: detected") as say:
        seq = _tamper_detected(ws)
        say.append(f"an edited payload was caught at seq {seq}")


def _tamper_detected(ws: Workspace) -> int:
    source = ws.state_dir / "monoloop.db"
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "copy.db"
        # VACUUM INTO: a consistent copy of a WAL database, without touching the live one.
        live = sqlite3.connect(source)
        try:
            live.execute("VACUUM INTO ?", (str(copy),))
        finally:
            live.close()
        db = Database.open(f"sqlite:///{copy}")
        try:
            with db.write() as conn:
                conn.execute(
                    text("UPDATE events SET payload = :p WHERE seq = 2"), {"p": '{"forged":true}'}
                )
            found = anchors.read_anchors(
                ws.root, prefix=ws.config.audit.anchor_prefix, project=ws.config.project
            )
            verdict = service.verify_db(db, found)
        finally:
            db.close()
    if verdict.ok or verdict.first_bad_seq != 2:
        raise DemoFailed(f"a forged event went undetected: {verdict.to_dict()}")
    return verdict.first_bad_seq

"""The buffered tracking SDK: what reaches the DB, when, and what survives exceptions and kills.

The kill tests run real training-like child processes and signal them.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from monoloop.audit import service as audit
from monoloop.errors import Conflict, InvalidInput
from monoloop.tracking import sdk
from monoloop.tracking import service as tracking
from monoloop.tracking import writer as buffered
from monoloop.workspace import Workspace


@pytest.fixture(autouse=True)
def _fresh_writers() -> Iterator[None]:
    yield
    buffered.close_all()


def test_a_run_logged_through_the_sdk(ws: Workspace) -> None:
    artifact = ws.root / "model.txt"
    artifact.write_text("m")
    with sdk.start_run(
        name="sdk", tags={"team": "a"}, params={"lr": 0.1}, workspace=ws, flush_interval=60
    ) as run:
        assert sdk.active_run() is run
        run.log_param("epochs", 3)
        run.log_params({"model": "rf"})
        for step in range(5):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
        run.log_metric("acc", 0.5)
        run.log_metric("acc", 0.75)
        run.log_metrics({"f1": 0.25, "auc": 0.9}, step=7)
        sdk.log_metric("via_module", 1)
        run.set_tags({"phase": "dev"})
        artifact_id = run.log_artifact(artifact)
        with pytest.raises(InvalidInput, match="must be a number"):
            run.log_metric("bad", "x")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="invalid metric key"):
            run.log_metric("", 1.0)
    assert sdk.active_run() is None
    with pytest.raises(InvalidInput, match="no active run"):
        sdk.log_metric("x", 1.0)
    with pytest.raises(Exception, match="no run with id"):
        tracking.get_run(ws, run.id)  # not flushed yet: the interval is a minute
    sdk.flush()
    got = tracking.get_run(ws, run.id)
    assert (got.name, got.status) == ("sdk", "finished")
    assert got.params == {"epochs": 3, "lr": 0.1, "model": "rf"}
    assert got.tags == {"phase": "dev", "team": "a"}
    assert got.metrics == {"acc": 0.75, "auc": 0.9, "f1": 0.25, "loss": 0.2, "via_module": 1.0}
    assert [s for s, _, _ in tracking.metric_history(ws, run.id, "acc")] == [0, 1]
    assert got.artifacts["model.txt"].id == artifact_id
    assert got.git_commit is None and got.python and got.packages_hash
    # Written in one flush, the run's params and tags fold into its start event.
    events = audit.log(ws, audit.EventFilter(subject=run.id))
    assert [e.kind for e in events] == ["run.start", "run.artifact", "run.finish"]
    assert events[0].payload["tags"] == {"phase": "dev", "team": "a"}


def test_an_exception_in_the_block_fails_the_run_and_is_durable_at_once(ws: Workspace) -> None:
    with (
        pytest.raises(ValueError, match="diverged"),
        sdk.start_run(name="bad", workspace=ws, flush_interval=60) as run,
    ):
        run.log_metric("loss", 1.0)
        raise ValueError("diverged")
    got = tracking.get_run(ws, run.id)
    assert (got.status, got.error, got.metrics) == ("failed", "ValueError: diverged", {"loss": 1.0})
    for stop, status in ((SystemExit(0), "finished"), (KeyboardInterrupt(), "killed")):
        with pytest.raises(type(stop)), sdk.start_run(workspace=ws) as run:
            raise stop
        sdk.flush()
        assert tracking.get_run(ws, run.id).status == status


def test_inside_a_stage_the_sdk_attaches_to_the_executors_run(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = tracking.create_run(ws, pipeline="p", stage="train")
    monkeypatch.setenv(sdk.ENV_RUN_ID, run_id)
    with sdk.start_run(name="ignored", params={"lr": 0.3}, workspace=ws) as run:
        assert run.id == run_id and not run.owned
        run.log_metric("loss", 0.5)
    sdk.flush()
    got = tracking.get_run(ws, run_id)
    assert (got.status, got.params, got.metrics) == ("running", {"lr": 0.3}, {"loss": 0.5})
    tracking.finish_run(ws, run_id)
    with pytest.raises(Conflict, match="already finished"):
        sdk.start_run(workspace=ws)


def test_tiny_runs_in_a_loop_share_transactions(ws: Workspace) -> None:
    writer = buffered.writer_for(ws, flush_interval=60)
    begins: list[int] = []
    event.listen(writer.ws.db.engine, "begin", lambda conn: begins.append(1))
    ids = []
    for i in range(300):
        with sdk.start_run(name=f"r{i}", workspace=ws) as run:
            run.log_params({"i": i, "kind": "tiny"})
            run.log_metrics({"acc": i / 300, "loss": 1.0})
        ids.append(run.id)
    assert begins == [], "nothing was written synchronously"
    sdk.flush()
    assert len(begins) == 1
    found = tracking.search_runs(ws, where="params.kind = tiny", order_by="params.i", limit=1000)
    assert [r.id for r in found] == ids
    assert all(r.status == "finished" for r in found)
    assert len(audit.log(ws, audit.EventFilter(kind="run.*"))) == 600


def test_current_run_is_per_thread(ws: Workspace) -> None:
    buffered.writer_for(ws, flush_interval=60)
    ids: dict[int, str] = {}

    def work(n: int) -> None:
        with sdk.start_run(name=f"t{n}", workspace=ws) as run:
            ids[n] = run.id
            for step in range(200):
                sdk.log_metric(f"m{n}", float(n), step=step)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sdk.flush()
    for n, run_id in ids.items():
        assert tracking.get_run(ws, run_id).metrics == {f"m{n}": float(n)}


# Real processes ---------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys, time
    from monoloop.tracking import sdk
    mode, interval = sys.argv[1], float(sys.argv[2])
    run = sdk.start_run(name=mode, flush_interval=interval)
    print(run.id, flush=True)
    if mode in ("kill", "term"):
        i = 0
        while True:
            run.log_metric("x", float(i), step=i)
            i += 1
            if i == 100:
                print("logging", flush=True)
            time.sleep(0.0005)
    elif mode == "raise":
        with run:
            for i in range(1000):
                run.log_metric("x", float(i), step=i)
            raise RuntimeError("boom")
    else:
        for i in range(1000):
            run.log_metric("x", float(i), step=i)
        if mode == "crash":
            raise RuntimeError("uncaught")
    """
)
INTERVAL = 0.2
MARGIN = 0.5


def _child(ws: Workspace, tmp_path: Path, mode: str) -> tuple[subprocess.Popen[str], str]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.Popen(
        [sys.executable, str(script), mode, str(INTERVAL)],
        cwd=ws.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


def _steps(ws: Workspace, run_id: str) -> list[tuple[int, float, float]]:
    history = tracking.metric_history(ws, run_id, "x")
    assert [s for s, _, _ in history] == list(range(len(history))), "no gaps"
    return history


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_process_keeps_what_it_logged(
    ws: Workspace, tmp_path: Path, sig: signal.Signals
) -> None:
    proc, run_id = _child(ws, tmp_path, "kill" if sig == signal.SIGKILL else "term")
    assert proc.stdout is not None and proc.stdout.readline().strip() == "logging"
    time.sleep(4 * INTERVAL)
    sent = time.time()
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == -sig, "dies of the signal, as with the default handler"
    history = _steps(ws, run_id)
    last = history[-1][2]
    run = tracking.get_run(ws, run_id)
    if sig == signal.SIGKILL:
        # Every point logged before the last flush interval (and a margin) was committed.
        assert last >= sent - INTERVAL - MARGIN, (sent - last, len(history))
        assert run.status == "running"
    else:
        assert last >= sent - 0.1, "everything up to the signal was flushed"
        assert (run.status, run.error) == ("killed", "terminated by SIGTERM")


@pytest.mark.parametrize(
    ("mode", "code", "status"),
    [("raise", 1, "failed"), ("crash", 1, "failed"), ("exit", 0, "finished")],
)
def test_exceptions_and_plain_exit_lose_nothing(
    ws: Workspace, tmp_path: Path, mode: str, code: int, status: str
) -> None:
    proc, run_id = _child(ws, tmp_path, mode)
    assert proc.wait(timeout=60) == code
    assert len(_steps(ws, run_id)) == 1000
    run = tracking.get_run(ws, run_id)
    assert run.status == status
    if mode != "exit":
        assert run.error is not None and "RuntimeError" in run.error

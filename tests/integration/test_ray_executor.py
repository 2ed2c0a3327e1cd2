"""The Ray executor against the local one: the same pipeline, the same lock, the same runs.

One local Ray (2 CPUs, no dashboard, no usage reporting) serves the whole module; the
executor finds it initialised and uses it as is.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_pipelines as base
import yaml

from monoloop.errors import MonoloopError
from monoloop.pipelines import execution
from monoloop.pipelines.context import PipelineContext
from monoloop.pipelines.process import Job
from monoloop.pipelines.result import PipelineResult, StageResult
from monoloop.tracking import service as tracking
from monoloop.workspace import Workspace

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING
    )
    yield ray
    ray.shutdown()


@pytest.fixture
def project(ws: Workspace, ray_cluster: Any) -> Path:
    return base.make_project(ws.root)


def run_record(ws: Workspace, run_id: str | None) -> dict[str, Any]:
    """What must not depend on the executor: not ids, times or the log's path."""
    got = tracking.get_run(ws, run_id or "")
    return {
        "name": got.name,
        "status": got.status,
        "params": got.params,
        "metrics": got.metrics,
        "inputs": got.inputs,
        "outputs": got.outputs,
        "error": got.error,
        "log": ws.objects.get(got.log_id).decode() if got.log_id else None,
    }


def stage(result: PipelineResult, name: str) -> StageResult:
    return next(s for s in result.stages if s.stage == name)


def records(ws: Workspace, result: PipelineResult) -> dict[str, dict[str, Any]]:
    return {s.stage: run_record(ws, s.run_id) for s in result.stages if s.run_id}


def test_ray_and_local_executors_give_the_same_lock_and_runs(ws: Workspace, project: Path) -> None:
    local = base.run(project)
    assert local.ok
    lock_bytes = (project / "monoloop.lock").read_bytes()
    outputs = {p: p.read_bytes() for p in (project / "out").rglob("*") if p.is_file()}
    base.calls(project)

    shutil.rmtree(project / "out")
    on_ray = base.run(project, force=True, executor="ray")
    ran = {"prepare": "ran", "train": "ran", "report": "ran"}
    assert base.statuses(on_ray) == base.statuses(local) == ran
    assert (project / "monoloop.lock").read_bytes() == lock_bytes
    assert {p: p.read_bytes() for p in (project / "out").rglob("*") if p.is_file()} == outputs
    assert records(ws, on_ray) == records(ws, local)
    # Shared file system (a local store): the stage ran in the working tree, as locally.
    assert sorted(base.calls(project)) == ["prepare", "report", "train"]
    seen_id, seen_root = (project / "seen_run_id.txt").read_text().split()
    assert (seen_id, seen_root) == (stage(on_ray, "train").run_id, str(project))
    # The worker's stat-cache entries reached the coordinator: the next run skips all.
    assert set(base.statuses(base.run(project)).values()) == {"skipped"}


def test_a_failing_stage_under_ray_is_reported_like_a_local_failure(
    ws: Workspace, project: Path
) -> None:
    base.write_params(project, {"prepare": {"scale": 2, "fail": True}, "train": {"lr": 0.1}})
    local = base.run(project)
    on_ray = base.run(project, executor="ray")
    for result in (local, on_ray):
        assert base.statuses(result) == {
            "prepare": "failed",
            "train": "blocked",
            "report": "blocked",
        }
    [lf], [rf] = local.failed, on_ray.failed
    assert (rf.exit_code, rf.error, rf.log_tail) == (lf.exit_code, lf.error, lf.log_tail)
    assert rf.log_tail[-2:] == ["about to fail", "told to fail"]
    assert rf.log_id == lf.log_id and rf.log == lf.log and Path(rf.log).is_file()
    assert records(ws, on_ray) == records(ws, local)
    assert not (project / "monoloop.lock").exists()


def test_a_lost_ray_task_fails_its_stage_with_the_reason(ws: Workspace, project: Path) -> None:
    base.set_pipelines(
        project,
        """
pipelines:
  p:
    stages:
      crash: {cmd: "echo going down; kill -9 $PPID; sleep 1", outs: [a.txt]}
      after: {cmd: "cp a.txt b.txt", deps: [a.txt], outs: [b.txt]}
      other: {cmd: "echo ok > c.txt", outs: [c.txt]}
""",
    )
    result = base.run(project, executor="ray")
    assert base.statuses(result) == {"crash": "failed", "after": "blocked", "other": "ran"}
    [failed] = result.failed
    assert failed.error is not None and failed.error.startswith("its Ray task failed")
    assert failed.exit_code is None and failed.log_id is not None
    log = ws.objects.get(failed.log_id).decode()
    assert log.startswith("going down") and "its Ray task failed" in log
    got = tracking.get_run(ws, failed.run_id or "")
    assert (got.status, got.log_id) == ("failed", failed.log_id)


def test_remote_store_workers_fetch_inputs_and_push_outputs(
    ws: Workspace,
    project: Path,
    s3_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3

    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bucket = f"monoloop-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    config = yaml.safe_load((project / "monoloop.yaml").read_text())
    config["store"] = {
        "url": f"s3://{bucket}/store",
        "options": {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
        },
    }
    (project / "monoloop.yaml").write_text(yaml.safe_dump(config))
    assert base.run(project).ok
    lock_bytes = (project / "monoloop.lock").read_bytes()
    outputs = {p: p.read_bytes() for p in (project / "out").rglob("*") if p.is_file()}
    base.calls(project)

    shutil.rmtree(project / "out")
    (project / "seen_run_id.txt").unlink()
    on_ray = base.run(project, force=True, executor="ray")
    assert on_ray.ok, on_ray.failed
    assert (project / "monoloop.lock").read_bytes() == lock_bytes
    assert {p: p.read_bytes() for p in (project / "out").rglob("*") if p.is_file()} == outputs
    # The stages ran in scratch directories filled from the store, not in the working tree;
    # the tracking SDK inside them still reached the run (through a copy of monoloop.yaml).
    assert base.calls(project) == [] and not (project / "seen_run_id.txt").exists()
    train = tracking.get_run(ws, stage(on_ray, "train").run_id or "")
    assert train.status == "finished" and train.metrics["loss.train"] == 0.25
    assert Path(stage(on_ray, "prepare").log or "").is_file()

    # A sweep's trials on Ray with the remote store: same fetch-run-store path.
    from monoloop.pipelines.sweep import sweep

    ctx = PipelineContext.light(project)
    try:
        found = sweep(ctx, "train", {"train.lr": [0.1, 0.2]}, executor="ray")
    finally:
        ctx.close()
    assert found.ok, found.failed
    lr = [tracking.get_run(ws, t.run_id or "").params["train"]["lr"] for t in found.trials]
    assert lr == [0.1, 0.2] and base.calls(project) == []


def test_resources_become_task_options_and_an_impossible_ask_fails_at_once(
    ws: Workspace, project: Path, ray_cluster: Any
) -> None:
    from monoloop.pipelines.dag import Stage
    from monoloop.pipelines.ray_executor import RayBackend, RayExecutor, task_options

    big = Stage("p", "big", cmd="true", resources=(("cpus", 64.0), ("memory_mb", 512.0)))
    job = Job(big, {}, project / ".monoloop" / "pipelines" / "logs" / "p" / "big.log")
    assert task_options(job) == {"num_cpus": 64.0, "memory": 512 << 20}
    gpu = Stage("p", "gpu", cmd="true", resources=(("cpus", 0.5), ("gpus", 1.0)))
    assert task_options(Job(gpu, {}, job.log)) == {"num_cpus": 0.5, "num_gpus": 1.0}

    # A Ray that monoloop started will not grow: waiting for 64 CPUs would never end.
    ctx = PipelineContext.of(ws)
    backend = RayBackend({}, {})
    backend._connect()
    executor = RayExecutor(ctx, backend._task, jobs=1, fixed=True)
    executor.submit(job)
    ended, stored = executor.wait(), executor.wait()
    ctx.close()
    assert not ended.stored and stored.stored and executor.outstanding == 0
    assert stored.error == "it needs 64 CPUs and the local Ray has 2"
    assert stored.log_id is not None and ws.objects.exists(stored.log_id)


def test_the_executor_is_chosen_by_flag_then_config(
    ws: Workspace, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = PipelineContext.light(project)
    assert execution.choose(ctx, None) == "local" and execution.choose(ctx, "ray") == "ray"
    with pytest.raises(MonoloopError, match="unknown executor 'dask'") as info:
        execution.choose(ctx, "dask")
    assert info.value.exit_code == 2
    config = yaml.safe_load((project / "monoloop.yaml").read_text())
    config["execution"] = {"executor": "ray"}
    (project / "monoloop.yaml").write_text(yaml.safe_dump(config))
    ctx = PipelineContext.light(project)
    assert execution.choose(ctx, None) == "ray" and execution.choose(ctx, "local") == "local"

    # Without Ray installed: a clear error with the install hint, before anything changes.
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a)
    )
    with pytest.raises(execution.ExecutorUnavailable) as missing:
        base.run(project)
    assert missing.value.hint == "pip install 'monoloop[ray]'"
    assert not (project / "monoloop.lock").exists() and not (project / "out").exists()


def test_the_command_takes_the_executor(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    code, out, _ = base.cli(project, capsys, "--executor", "ray", "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    code, _, err = base.cli(project, capsys, "--executor", "spark", "--force")
    assert code == 2 and "unknown executor 'spark'" in err


def test_a_sweep_on_ray_gives_the_trials_a_local_sweep_gives(ws: Workspace, project: Path) -> None:
    from monoloop.pipelines.sweep import sweep

    def trials(executor: str) -> list[tuple[Any, ...]]:
        ctx = PipelineContext.light(project)
        try:
            found = sweep(
                ctx,
                "train",
                {"train.lr": [0.1, 0.2]},
                metric="acc",
                maximize=True,
                executor=executor,
            )
        finally:
            ctx.close()
        assert found.ok and found.executor == executor and found.best is found.trials[0]
        return [
            (t.params, t.metrics, tracking.get_run(ws, t.run_id or "").outputs)
            for t in found.trials
        ]

    local = trials("local")
    assert local[0][2] != local[1][2]  # the model's config names lr
    assert trials("ray") == local
    assert not (project / "out").exists() and not (project / "monoloop.lock").exists()

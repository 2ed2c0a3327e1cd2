"""The Ray executor: each stage a Ray task that runs the same process code as a local stage.

    execution: {executor: ray}          # monoloop.yaml; or `monoloop run --executor ray`

The coordinator (the `monoloop run` process) stays the only writer of the metadata DB,
monoloop.lock and the stat cache. A task runs the stage's process (`process.execute`,
as the local executor does), hashes and stores its outputs and log, and returns the
`Finished` report; the task's Ray options come from the stage's `resources`.

Where a task finds its files depends on the object store:

- a local store (a directory): the task runs the stage in the working tree, as locally.
  The Ray workers must see the workspace's file system (a local Ray, or a shared mount).
- a remote store (s3://, gs://, ...): no shared file system is needed. The coordinator
  puts the stage's deps into the store (`Job.inputs`); the task fetches them into a scratch
  directory, runs the stage there and stores its outputs; the coordinator then writes the
  outputs and the log into the working tree from the store.

Ray is imported only when a stage is about to start (`RayBackend` checks it is installed
without importing it), and only tasks import it on the workers.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monoloop.pipelines import process
from monoloop.pipelines.execution import ExecutorUnavailable
from monoloop.pipelines.process import Finished, Job
from monoloop.pipelines.runs import ENV_WORKSPACE
from monoloop.pipelines.tree import place

if TYPE_CHECKING:
    from monoloop.pipelines.context import PipelineContext
    from monoloop.store.objects import ObjectStore

INSTALL_HINT = "pip install 'monoloop[ray]'"
POLL_S = 0.2  # a task checks this often whether Ray cancelled it while its process runs


@dataclass(frozen=True)
class TaskSpec:
    """Everything a task needs, sent to the worker; no handles, only values."""

    job: Job
    store_url: str
    store_options: dict[str, Any]
    root: str  # the workspace on the coordinator's machine
    scratch: bool  # fetch `job.inputs` into a scratch directory instead of using `root`
    log_rel: str  # the log, relative to where the stage runs
    config_text: str | None = None  # monoloop.yaml, for the tracking SDK in a scratch stage
    env: dict[str, str] = field(default_factory=dict)  # MONOLOOP_* variables for the stage


class RayBackend:
    """A Ray connection for a command: joins the configured cluster or RAY_ADDRESS, else
    starts a local Ray, which `close()` stops; an already initialised Ray is used as is."""

    name = "ray"

    def __init__(self, settings: Mapping[str, Any], env: Mapping[str, str]) -> None:
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            raise ExecutorUnavailable(
                "the Ray executor needs Ray, which is not installed", hint=INSTALL_HINT
            )
        self.address: str | None = env.get("RAY_ADDRESS") or settings.get("address") or None
        self.num_cpus: int | None = settings.get("num_cpus")
        self._started = False
        self._task: Any = None

    def _connect(self) -> Any:
        import ray

        if not ray.is_initialized():
            options: dict[str, Any] = {
                "address": self.address,
                "log_to_driver": False,  # stage output goes to its log, not to this terminal
                "logging_level": logging.WARNING,
            }
            if self.address is None:
                # A local Ray for this command: no dashboard to start, no usage reporting.
                os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                options.update(include_dashboard=False, num_cpus=self.num_cpus)
            # Ray's core installs its own SIGTERM handler, which ends the process at once:
            # ours must stay, so that running stages are stopped and their runs marked.
            previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or "a new local Ray"
                raise ExecutorUnavailable(
                    f"cannot start or reach Ray at {where}: {str(exc).splitlines()[0]}",
                    hint="check execution.ray.address in monoloop.yaml and RAY_ADDRESS, or "
                    "unset both to start a local Ray",
                ) from None
            finally:
                _restore_signals(previous)
            self._started = True
        if self._task is None:
            # A stage is not retried: a failure is reported, as with the local executor.
            self._task = ray.remote(max_retries=0, retry_exceptions=False)(run_task)
        return ray

    def executor(self, ctx: PipelineContext, *, jobs: int | None) -> RayExecutor:
        self._connect()
        return RayExecutor(ctx, self._task, jobs=jobs or self.capacity(), fixed=self._started)

    def capacity(self) -> int:
        ray = self._connect()
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False


class RayExecutor:
    """Submits jobs as Ray tasks and turns their results into the two reports per job that
    the coordinator expects (ended, then stored; see `process.Finished`)."""

    def __init__(self, ctx: PipelineContext, task: Any, *, jobs: int, fixed: bool) -> None:
        from monoloop.store.local import LocalStore

        self.root = ctx.root
        self.objects: ObjectStore = ctx.objects
        self.jobs = jobs
        self.needs_inputs = not isinstance(self.objects, LocalStore)
        self.running = 0
        self.outstanding = 0
        self._task = task
        self._fixed = fixed  # a local Ray we started: it will not grow to fit a stage
        self._refs: dict[Any, tuple[Job, float]] = {}
        self._ready: deque[Finished] = deque()
        self._config: str | None
        self._env: dict[str, str]
        if self.needs_inputs:
            ws = ctx.workspace()
            self._store = (ctx.store_url or self.objects.url, dict(ctx.store_options))
            # From the workspace: `ctx.root` may be a sweep trial's tree, which has no copy.
            self._config = (ws.root / "monoloop.yaml").read_text(encoding="utf-8")
            self._env = {
                "MONOLOOP_DB_URL": ws.settings.db_url,
                "MONOLOOP_STORE_URL": self._store[0],
                "MONOLOOP_ACTOR": ws.actor,
            }
        else:
            self._store = (self.objects.url, {})
            self._config, self._env = None, {}

    def submit(self, job: Job) -> None:
        self.running += 1
        self.outstanding += 1
        options = task_options(job)
        refused = self._refusal(options)
        if refused is not None:
            self._report(job, self._failure(job, time.perf_counter(), refused))
            return
        env = {k: v for k, v in job.env.items() if k.startswith("MONOLOOP_")}
        spec = TaskSpec(
            job=replace(job, env={}),
            store_url=self._store[0],
            store_options=self._store[1],
            root=str(self.root),
            scratch=self.needs_inputs,
            log_rel=job.log.relative_to(self.root).as_posix(),
            config_text=self._config,
            env={**env, **self._env},
        )
        ref = self._task.options(name=f"monoloop {job.stage.id}", **options).remote(spec)
        self._refs[ref] = (job, time.perf_counter())

    def _refusal(self, options: Mapping[str, Any]) -> str | None:
        """Why the stage can never start on a Ray that will not grow (Ray would wait forever)."""
        if not self._fixed:
            return None
        import ray

        total = ray.cluster_resources()
        for option, resource, unit in (
            ("num_cpus", "CPU", "CPUs"),
            ("num_gpus", "GPU", "GPUs"),
            ("memory", "memory", "bytes of memory"),
        ):
            wanted = options.get(option) or 0
            if wanted > total.get(resource, 0):
                have = total.get(resource, 0)
                return f"it needs {wanted:g} {unit} and the local Ray has {have:g}"
        return None

    def wait(self) -> Finished:
        """The next report (see `process.Finished`)."""
        while not self._ready:
            self._collect()
        finished = self._ready.popleft()
        if finished.stored:
            self.outstanding -= 1
        else:
            self.running -= 1
        return finished

    def _collect(self) -> None:
        import ray

        [ref], _ = ray.wait(list(self._refs), num_returns=1)
        job, begun = self._refs.pop(ref)
        try:
            report: Finished = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            self._report(job, self._failure(job, begun, "cancelled"))
        except ray.exceptions.RayError as exc:
            reason = f"its Ray task failed: {str(exc).strip().splitlines()[0]}"
            self._report(job, self._failure(job, begun, reason, detail=str(exc)))
        else:
            self._report(job, self._arrived(job, report))

    def _report(self, job: Job, stored: Finished) -> None:
        self._ready.append(replace(stored, stored=False))
        self._ready.append(stored)

    def _arrived(self, job: Job, report: Finished) -> Finished:
        """A task's report, with the log and (from a scratch run) the outputs brought into
        the working tree from the store."""
        done = replace(report, log=job.log, stored=True)
        if not self.needs_inputs:
            return done
        try:
            if done.log_id is not None:
                job.log.parent.mkdir(parents=True, exist_ok=True)
                self.objects.get_file(done.log_id, job.log)
            if done.ok:
                for path, cid in done.outs.items():
                    place(self.objects, self.root, path, cid)
        except Exception as exc:  # MonoloopError, OSError: the stage's result is unusable
            done.error = done.error or f"its outputs could not be fetched from the store: {exc}"
        return done

    def _failure(self, job: Job, begun: float, reason: str, detail: str = "") -> Finished:
        """A stage that Ray could not run: reported like a local failure, with a log."""
        job.log.parent.mkdir(parents=True, exist_ok=True)
        with open(job.log, "ab") as log:
            log.write(f"monoloop: {reason}\n{detail}".encode())
        finished = Finished(
            job.stage,
            None,
            time.perf_counter() - begun,
            job.log,
            error=reason,
            tail=process.tail(job.log),
        )
        return process.store(self.objects, finished)

    def cancel(self) -> None:
        """Ask every running task to stop: each stops its stage's process group."""
        import ray

        for ref in list(self._refs):
            ray.cancel(ref, force=False)

    def close(self) -> None:
        pass


def _restore_signals(handlers: Mapping[signal.Signals, Any]) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for sig, handler in handlers.items():
        # Always set: a handler installed in C is invisible to signal.getsignal.
        if handler is not None:
            signal.signal(sig, handler)


def task_options(job: Job) -> dict[str, Any]:
    """Ray options from the stage's `resources` (one CPU when it declares none)."""
    wanted = dict(job.stage.resources)
    options: dict[str, Any] = {"num_cpus": wanted.get("cpus", 1)}
    if wanted.get("gpus"):
        options["num_gpus"] = wanted["gpus"]
    if wanted.get("memory_mb"):
        options["memory"] = int(wanted["memory_mb"] * 1024 * 1024)
    return options


# -- on the worker --------------------------------------------------------------------------


def run_task(spec: TaskSpec) -> Finished:
    """The Ray task: run one stage and store what it wrote (see the module's docstring)."""
    from monoloop.data.statcache import StatCache
    from monoloop.root import STATE_DIR
    from monoloop.store.objects import open_store

    objects = open_store(spec.store_url, default_root=spec.root, options=spec.store_options)
    job = spec.job
    if spec.scratch:
        root = Path(tempfile.mkdtemp(prefix="monoloop-stage-"))
    else:
        root = Path(spec.root)
        if not root.is_dir():
            import socket

            raise ExecutorUnavailable(
                f"the workspace {root} is not on Ray node {socket.gethostname()}",
                hint="with a local object store, Ray workers must share the workspace's file "
                "system; set store.url to a remote store (s3://...) so they need not",
            )
    procs: list[Any] = []

    def starter(_stage: Any, start: Any) -> Any:
        proc = start()
        procs.append(proc)
        return proc

    try:
        if spec.scratch:
            fetch(objects, root, job.inputs)
            if spec.config_text is not None:
                (root / "monoloop.yaml").write_text(spec.config_text, encoding="utf-8")
            for path in job.stage.written:
                (root / path).parent.mkdir(parents=True, exist_ok=True)
        here = replace(job, env=stage_env(spec, root), log=root / spec.log_rel)
        clock = None if spec.scratch else StatCache(root / STATE_DIR).clock
        finished = process.execute(here, root, clock=clock, starter=starter, poll=POLL_S)
        done = process.store(objects, finished)
    except BaseException:
        process.stop(procs)  # cancelled (KeyboardInterrupt) or broken: no stray stage
        raise
    finally:
        if spec.scratch:
            shutil.rmtree(root, ignore_errors=True)
    # File lists and stat entries of a scratch directory mean nothing to the coordinator.
    return replace(done, outputs=None, remembered=None if spec.scratch else done.remembered)


def fetch(objects: ObjectStore, root: Path, inputs: Mapping[str, tuple[str, bool]]) -> None:
    """Write a stage's inputs from the store under `root` (each checked against its id)."""
    for path, (cid, is_dir) in sorted(inputs.items()):
        place(objects, root, path + "/" if is_dir else path, cid)


def stage_env(spec: TaskSpec, root: Path) -> dict[str, str]:
    """This worker's environment with the coordinator's MONOLOOP_* variables, and `python`
    this worker's interpreter (as the local executor makes it the coordinator's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONOLOOP_")}
    env.update(spec.env)
    env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", os.defpath)])
    if spec.scratch:
        env[ENV_WORKSPACE] = str(root)
    return env

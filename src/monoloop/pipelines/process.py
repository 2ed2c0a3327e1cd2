"""One stage's process, the same on every executor: start it, wait, hash and store its outputs.

The local executor calls these from its worker threads; the Ray executor calls them inside
a Ray task. Sharing them is what makes a stage's outputs, metrics, log and failure report
identical whichever executor ran it.

    proc = launch(stage, root, env, log_file)        # its own process group
    finished = conclude(stage, root, proc.wait(), log, started, clock)
    stored = store(objects, finished)                # outputs and log into the object store

A `call` stage runs `python -c BOOTSTRAP` with this interpreter: the workspace root goes
first on sys.path, the module is imported and the function called, with the stage's
params if it has a `params` parameter.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from monoloop.errors import MonoloopError
from monoloop.pipelines.dag import Stage
from monoloop.pipelines.tree import Outputs, Remembered, hash_outputs, store_outputs
from monoloop.store.objects import ObjectStore

TAIL_LINES = 20
TERMINATE_GRACE_S = 5.0

BOOTSTRAP = """\
import importlib, json, os, sys
root, target = sys.argv[1], sys.argv[2]
sys.argv = [target]
sys.path.insert(0, root)
module, _, name = target.partition(":")
fn = getattr(importlib.import_module(module), name)
code = getattr(fn, "__code__", None)
names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount] if code else ()
if "params" in names:
    fn(params=json.loads(os.environ.get("MONOLOOP_PARAMS") or "{}"))
else:
    fn()
"""


@dataclass(frozen=True)
class Job:
    stage: Stage
    env: Mapping[str, str]
    log: Path
    # path -> (id, is a directory): what a worker without the working tree fetches from the
    # object store before the stage starts; empty when it runs in the working tree.
    inputs: Mapping[str, tuple[str, bool]] = field(default_factory=dict)


@dataclass
class Finished:
    """A stage's process ended (`stored` False), then its outputs and log were stored
    (`stored` True). Each job reports twice, in that order: the stages after it may start
    on the first report, while the bytes are still being made durable."""

    stage: Stage
    exit_code: int | None  # None: the process could not start
    seconds: float
    log: Path
    stored: bool = False
    log_id: str | None = None
    outs: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    remembered: Remembered | None = None
    error: str | None = None
    tail: list[str] = field(default_factory=list)
    outputs: Outputs | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None


def command(stage: Stage, root: Path) -> tuple[list[str] | str, bool]:
    """(what to start, whether through the shell)."""
    if stage.cmd is not None:
        return stage.cmd, True
    assert stage.call is not None
    return [sys.executable, "-c", BOOTSTRAP, str(root), stage.call], False


def launch(
    stage: Stage, root: Path, env: Mapping[str, str], log: IO[bytes]
) -> subprocess.Popen[bytes]:
    """Start the stage's process in `root`, stdout and stderr into `log`; OSError if it
    cannot start."""
    what, shell = command(stage, root)
    return subprocess.Popen(
        what,
        shell=shell,  # running the user's command is the point
        cwd=root,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, stopped as a whole
    )


Starter = Callable[[Stage, Callable[[], "subprocess.Popen[bytes]"]], "subprocess.Popen[bytes]"]


def _start_now(_stage: Stage, start: Callable[[], subprocess.Popen[bytes]]) -> Any:
    return start()


def execute(
    job: Job,
    root: Path,
    *,
    clock: Callable[[], int] | None = None,
    starter: Starter = _start_now,
    ended: Callable[[Stage], None] | None = None,
    poll: float | None = None,
) -> Finished:
    """Run a job's process to its end in `root` and hash what it wrote.

    `starter(stage, start)` calls `start()` and returns the process, so an executor can
    keep it to stop it (or refuse with InterruptedError); `ended(stage)` is told when
    it exited. With `poll`, the wait wakes up that often, so that an exception raised
    asynchronously in this thread (a Ray task being cancelled) gets through; without it
    the wait blocks, and the end of a short stage is seen at once."""
    begun = time.perf_counter()
    stage = job.stage
    job.log.parent.mkdir(parents=True, exist_ok=True)
    with open(job.log, "wb") as log:
        try:
            proc = starter(stage, lambda: launch(stage, root, job.env, log))
        except OSError as exc:
            log.write(f"cannot start the stage: {exc}\n".encode())
            return failed(job, None, begun, f"cannot start: {exc.strerror or exc}")
        try:
            code = _wait(proc, poll)
        finally:
            if ended is not None:
                ended(stage)
    return conclude(job, root, code, begun, clock)


def _wait(proc: subprocess.Popen[bytes], poll: float | None) -> int:
    if poll is None:
        return proc.wait()
    while True:
        try:
            return proc.wait(poll)
        except subprocess.TimeoutExpired:
            continue


def conclude(
    job: Job, root: Path, code: int, begun: float, clock: Callable[[], int] | None
) -> Finished:
    """What an ended process leaves: a failure with its reason, or its hashed outputs."""
    stage = job.stage
    seconds = time.perf_counter() - begun
    if code != 0:
        reason = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return failed(job, code, begun, reason)
    now = clock() if clock is not None else 0
    try:
        outputs = hash_outputs(root, stage.written, now)
        metrics = {rel: read_metrics(root / rel) for rel in stage.metrics}
    except MonoloopError as exc:
        return failed(job, code, begun, exc.message)
    return Finished(
        stage,
        code,
        seconds,
        job.log,
        outs=outputs.ids,
        metrics=metrics,
        remembered=outputs.remembered,
        outputs=outputs,
    )


def failed(job: Job, code: int | None, begun: float, reason: str) -> Finished:
    if code is not None and code >= 0 and not reason.startswith("exit code"):
        with open(job.log, "ab") as log:  # say in the log why an exit 0 failed
            log.write(f"\nmonoloop: {reason}\n".encode())
    elapsed = time.perf_counter() - begun
    return Finished(job.stage, code, elapsed, job.log, error=reason, tail=tail(job.log))


def store(objects: ObjectStore, finished: Finished) -> Finished:
    """The stored report: outputs and log put into the store (a failure to do so fails it)."""
    done = replace(finished, stored=True)
    try:
        extra = [finished.log] if finished.log.exists() else []
        if finished.outputs is not None:
            ids = store_outputs(objects, finished.outputs, extra)
        else:
            ids = objects.put_files(extra) if extra else []
        done.log_id = ids[0] if ids else None
    except MonoloopError as exc:
        if done.ok:
            done.error = f"its outputs could not be stored: {exc.message}"
    except OSError as exc:
        if done.ok:
            done.error = f"its outputs could not be stored: {exc}"
    return done


def stop(procs: Iterable[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each process group, SIGKILL to those still there after a grace period."""
    procs = list(procs)
    for proc in procs:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + TERMINATE_GRACE_S
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


def tail(log: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last lines of a log, read from its end."""
    try:
        with open(log, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 16384))
            data = f.read()
    except OSError:
        return []
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]


def read_metrics(path: Path) -> dict[str, float]:
    """Numbers in a JSON or YAML file, nested keys joined with '.'; other values ignored."""
    from monoloop.errors import InvalidInput

    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            doc = json.loads(text)
        else:
            import yaml

            doc = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(f"metrics file {path.name} cannot be read: {exc}") from None
    except Exception as exc:  # yaml.YAMLError, imported lazily
        raise InvalidInput(f"metrics file {path.name} is not valid YAML: {exc}") from None
    found: dict[str, float] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        elif (
            prefix
            and isinstance(node, int | float)
            and not isinstance(node, bool)
            and math.isfinite(node)
        ):
            found[prefix[:-1]] = node

    walk(doc, "")
    return found

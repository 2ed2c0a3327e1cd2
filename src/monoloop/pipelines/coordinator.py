"""The coordinating loop of one pipeline execution: decide each ready stage, start it on
the executor, collect what finishes, keep the lock file and the runs up to date.

Only this thread touches the DB, monoloop.lock and the stat cache; executors report
`Finished` stages back to it in completion order (see `executor`).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monoloop.errors import Conflict
from monoloop.pipelines import lock, result
from monoloop.pipelines.dag import Stage
from monoloop.pipelines.execution import Backend, LocalBackend
from monoloop.pipelines.params import ENV_PARAMS, stage_env
from monoloop.pipelines.result import PipelineResult, StageResult, notify
from monoloop.pipelines.session import RUN, SKIP, Decision, Session

if TYPE_CHECKING:
    from monoloop.pipelines.executor import Executor
    from monoloop.pipelines.process import Finished
    from monoloop.pipelines.result import Progress
    from monoloop.pipelines.runs import Recorder

LOCK_EVERY_S = 2.0  # while stages run, save monoloop.lock at most this often


class Coordinator:
    """Runs a session's selected stages: `Coordinator(session, jobs, progress, overrides).go()`."""

    def __init__(
        self,
        session: Session,
        jobs: int | None,
        progress: Progress | None,
        overrides: dict[str, Any],
        *,
        backend: Backend | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.s = session
        self.ctx = session.ctx
        self.jobs = jobs  # None: what the backend can run at once, asked when a stage starts
        self.backend: Backend = backend if backend is not None else LocalBackend()
        self.progress = progress
        self.results: dict[str, StageResult] = {}
        self.decisions: dict[str, Decision] = {}
        self.run_ids: dict[str, str] = {}
        self.executor: Executor | None = None
        self.recorder: Recorder | None = None
        self.lock_changed = False  # the file's bytes changed in this invocation
        self._dirty = False  # entries changed since the file was last written
        self.overrides = overrides
        self.tags = dict(tags or {})  # on every run this execution creates
        self._stop = threading.Event()
        self._flock: int | None = None
        self._saved_at = time.monotonic()
        self._new_outs: list[str] = []
        self._subject = "*"
        self._exited: set[str] = set()
        self._broken_outputs: dict[str, str] = {}

    def go(self, pipeline: str | None) -> PipelineResult:
        self._subject = pipeline or "*"
        try:
            self._loop()
        except BaseException:
            self._abort()
            raise
        finally:
            self._finish()
        found = PipelineResult(
            [self.results[sid] for sid in self.s.selected if sid in self.results],
            lock_changed=self.lock_changed,
            params=self.overrides,
        )
        if self.recorder is not None:
            payload = {
                "ok": found.ok,
                "params": self.overrides,
                "stages": {r.id: r.status for r in found.stages},
                "runs": dict(self.run_ids),
            }
            if self.tags:
                payload["tags"] = self.tags
            self.recorder.flush(event=(self._subject, payload))
        return found

    def _loop(self) -> None:
        pending = list(self.s.selected)
        needs = {sid: self.s.graph.needs[sid] & set(pending) for sid in pending}
        while pending or self._outstanding():
            if self._stop.is_set():
                raise KeyboardInterrupt  # as if interrupted: stop, mark the runs killed
            before = len(pending)
            for sid in list(pending):
                if self.executor is not None and self.executor.running >= (self.jobs or 1):
                    break
                if not all(self._ready(up) for up in needs[sid]):
                    continue
                pending.remove(sid)
                stopped = sorted(
                    up
                    for up in needs[sid]
                    if up not in self._exited and not _usable(self.results[up])
                )
                if stopped:
                    reason = f"not run: {', '.join(stopped)} did not finish"
                    self._final(StageResult(*self._names(sid), result.BLOCKED, [reason]))
                    continue
                self._start(sid)
            if self._outstanding():
                assert self.executor is not None
                self._collect(self.executor.wait())
            elif len(pending) == before:  # pending is in run order: this cannot happen
                raise RuntimeError(f"pipeline scheduling stalled with {pending} pending")
            if time.monotonic() - self._saved_at > LOCK_EVERY_S:
                self._save_lock()

    def stop(self) -> None:
        """From another thread: stop the running stages and end `go()` as interrupted."""
        self._stop.set()
        if self.executor is not None:
            self.executor.cancel()

    def _outstanding(self) -> int:
        return self.executor.outstanding if self.executor is not None else 0

    def _ready(self, sid: str) -> bool:
        """Final, or ended well with its outputs hashed (their storing may still go on)."""
        res = self.results.get(sid)
        return res is not None and (res.status != result.RUNNING or sid in self._exited)

    def _names(self, sid: str) -> tuple[str, str, str]:
        st = self.s.stage(sid)
        return sid, st.pipeline, st.name

    def _final(self, res: StageResult) -> None:
        self.results[res.id] = res
        notify(self.progress, res)

    def _start(self, sid: str) -> None:
        st = self.s.stage(sid)
        decision = self.s.decide(st)
        self.decisions[sid] = decision
        if decision.action == RUN:
            self._launch(st, decision)
            return
        begun = time.perf_counter()
        if decision.store or decision.restore:
            self._writing()
        for path in decision.store:
            self.s.known.add([self.s.tree.ensure_stored(path)])
        for path, cid, is_dir in decision.restore:
            self.s.tree.clear(path)  # what is in the way is saved in the store first
            self.s.tree.restore(path, cid, is_dir=is_dir)
        if decision.entry is not None:
            assert decision.key is not None
            earlier = decision.entry
            self._record(st, decision, earlier.outs, earlier.metrics)
        self.s.settle(st, self.s.outs_of(st, decision))
        status = result.SKIPPED if decision.action == SKIP else result.RESTORED
        res = StageResult(*self._names(sid), status, decision.reasons)
        if status == result.RESTORED:
            res.seconds = time.perf_counter() - begun
        self._final(res)

    def _record(
        self,
        st: Stage,
        decision: Decision,
        outs: dict[str, str],
        metrics: dict[str, dict[str, float]],
    ) -> lock.Entry:
        """Put a stage's result into the lock (and the run cache)."""
        assert decision.key is not None
        entry = lock.Entry(
            decision.key, st.cmd, st.call, decision.deps, decision.params, outs, metrics
        )
        self.s.lock.entries[(st.pipeline, st.name)] = entry
        self.s.runs.put(entry)
        self._dirty = True
        return entry

    def _launch(self, st: Stage, decision: Decision) -> None:
        from monoloop.pipelines.process import Finished, Job
        from monoloop.pipelines.runs import ENV_RUN_ID, ENV_WORKSPACE, Recorder

        self._writing()
        if self.recorder is None:
            self.recorder = Recorder(self.ctx, tags=self.tags)
        if self.executor is None:
            self.jobs = self.jobs or self.backend.capacity()
            self.executor = self.backend.executor(self.ctx, jobs=self.jobs)
        self._checkout_tracked(st)
        broken = self._contracts_broken(st, "input")
        if broken is not None:
            # Stop before the stage runs; the refusal is a failed run with its reason.
            run_id = self.recorder.start(st, decision.params, decision.deps)
            log = self.ctx.state_dir / "pipelines" / "logs" / st.pipeline / f"{st.name}.log"
            self.recorder.finish(run_id, Finished(st, None, 0.0, log, stored=True, error=broken))
            res = StageResult(st.id, st.pipeline, st.name, result.FAILED, decision.reasons)
            res.run_id, res.error = run_id, broken
            self._final(res)
            return
        for path in st.written:
            if not st.persist:
                self.s.tree.clear(path)
            # Parents of outputs exist before the stage starts, as a convenience to it.
            (self.ctx.root / path).parent.mkdir(parents=True, exist_ok=True)
        run_id = self.recorder.start(st, decision.params, decision.deps)
        self.run_ids[st.id] = run_id
        env = dict(self.ctx.env)
        env.update(
            {
                ENV_RUN_ID: run_id,
                # The workspace with the DB, also when the stage runs in a sweep's trial tree.
                ENV_WORKSPACE: str(self.ctx.workspace().root),
                "MONOLOOP_PIPELINE": st.pipeline,
                "MONOLOOP_STAGE": st.name,
                ENV_PARAMS: stage_env(decision.params),
                # `python` in a stage is the interpreter monoloop runs in (the project's
                # virtualenv), whether or not the user activated it.
                "PATH": os.pathsep.join(
                    [os.path.dirname(sys.executable), env.get("PATH", os.defpath)]
                ),
            }
        )
        log = self.ctx.state_dir / "pipelines" / "logs" / st.pipeline / f"{st.name}.log"
        res = StageResult(st.id, st.pipeline, st.name, result.RUNNING, decision.reasons)
        res.run_id, res.log = run_id, str(log)
        self.results[st.id] = res
        notify(self.progress, res)
        inputs = self._inputs(st, decision) if self.executor.needs_inputs else {}
        self.executor.submit(Job(st, env, log, inputs))

    def _inputs(self, st: Stage, decision: Decision) -> dict[str, tuple[str, bool]]:
        """For a stage that runs away from the working tree: its deps (and the outputs a
        `persist` stage updates), each put into the object store unless it is there."""
        root = self.ctx.root
        paths = self.s.dep_paths(st) + self.s.package_files(st)
        if st.persist:
            paths += [p for p in st.written if os.path.lexists(root / p)]
        found: dict[str, tuple[str, bool]] = {}
        for path in paths:
            cid = decision.deps.get(path)
            if cid is None or not self.s.in_store(cid):
                cid = self.s.tree.ensure_stored(path)
                self.s.known.add([cid])
            found[path] = (cid, os.path.isdir(root / path))
        return found

    def _checkout_tracked(self, st: Stage) -> None:
        """Tracked data a stage reads must be in the working tree: check out what is not."""
        from monoloop.data import pointer

        root = self.ctx.root
        wanted = [
            d
            for d in st.deps
            if not os.path.lexists(root / d) and pointer.pointer_path(root / d).is_file()
        ]
        if wanted:
            from monoloop.data.context import DataContext
            from monoloop.data.materialize import checkout

            dctx = DataContext.of(self.ctx.workspace())
            try:
                checkout(dctx, wanted)
            finally:
                dctx.close()

    def _collect(self, done: Finished, *, interrupted: bool = False) -> None:
        st = done.stage
        if not done.stored:
            # The process ended: the stages after it may start on the hashed outputs,
            # once those meet the stage's output contracts.
            if done.ok:
                broken = self._contracts_broken(st, "output")
                if broken is not None:
                    self._broken_outputs[st.id] = broken
                    return
                self._exited.add(st.id)
                self.s.settle(st, done.outs)
            return
        if st.id in self._broken_outputs:
            done.error = self._broken_outputs.pop(st.id)
        res = self.results[st.id]
        res.seconds, res.exit_code, res.log_id = done.seconds, done.exit_code, done.log_id
        assert self.recorder is not None
        self.recorder.finish(self.run_ids[st.id], done, killed=interrupted and not done.ok)
        self._exited.discard(st.id)
        if done.remembered is not None:
            self.s.tree.batches.append(done.remembered)
        if not done.ok:
            res.status = result.KILLED if interrupted else result.FAILED
            res.error, res.log_tail = done.error, done.tail
            self._final(res)
            return
        self._record(st, self.decisions[st.id], done.outs, done.metrics)
        self.s.known.add(done.outs.values())
        self._new_outs.extend(st.outs)
        res.status, res.outs, res.metrics = result.RAN, done.outs, done.metrics
        self._final(res)

    def _contracts_broken(self, st: Stage, side: str) -> str | None:
        """Check the stage's data contracts on one side; the reason when one is broken.

        Every check is recorded in the audit ledger (validation.check), pass or fail.
        """
        pairs = [(path, contract) for which, path, contract in st.contracts if which == side]
        if not pairs:
            return None
        from monoloop.validation.service import check

        ws = self.ctx.workspace()
        for path, contract in pairs:
            report = check(ws, path, contract, cwd=self.ctx.root)
            if not report.ok:
                rules = ", ".join(sorted({r.rule for r in report.errors}))
                return f"{side} {path} broke data contract {contract!r}: {rules}"
        return None

    def _writing(self) -> None:
        """Take the workspace's pipeline lock before the first change to the working tree."""
        if self._flock is not None:
            return
        folder = self.ctx.state_dir / "pipelines"
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / "run.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Conflict(
                "another `monoloop run` is changing this workspace",
                hint="wait for it to finish, then run again",
            ) from None
        self._flock = fd

    def _save_lock(self) -> None:
        if self._dirty:
            doc = self.s.lock_doc()
            if lock.write(self.ctx.root, self.ctx.state_dir, self.s.lock, doc):
                self.lock_changed = True
            self._dirty = False
        self._saved_at = time.monotonic()

    def _abort(self) -> None:
        """Interrupted or broken: stop the running stages and mark their runs killed."""
        if self.executor is None or self.recorder is None:
            return
        self.executor.cancel()
        while self.executor.outstanding:
            self._collect(self.executor.wait(), interrupted=True)
        stages = {r.id: r.status for r in self.results.values()}
        payload = {"ok": False, "interrupted": True, "stages": stages, "runs": self.run_ids}
        with contextlib.suppress(Exception):  # the original error matters more than this one
            self.recorder.flush(event=(self._subject, payload))

    def _finish(self) -> None:
        try:
            if self.executor is not None:
                self.executor.close()
            self._save_lock()
            if self._new_outs:
                ignore_outputs(self.ctx.root, self._new_outs)
            self.s.save()
        finally:
            if self._flock is not None:
                os.close(self._flock)
                self._flock = None


def _usable(res: StageResult) -> bool:
    return res.status in (result.RAN, result.SKIPPED, result.RESTORED)


def ignore_outputs(root: Path, rels: list[str]) -> None:
    """Add `/name` for each output to the .gitignore beside it: outputs live in the store
    and the lock file names them; one write per .gitignore."""
    from monoloop.fsutil import atomic_write_text

    by_dir: dict[Path, list[str]] = {}
    for rel in rels:
        path = root / rel
        by_dir.setdefault(path.parent, []).append("/" + path.name)
    for folder, entries in by_dir.items():
        gitignore = folder / ".gitignore"
        lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
        missing = [e for e in sorted(set(entries)) if e not in lines]
        if missing and folder.is_dir():
            atomic_write_text(gitignore, "\n".join([*lines, *missing]) + "\n")

"""Where stages run: the executor named by `--executor`, else `execution.executor` in
monoloop.yaml, else local processes; and the lifetime of what it needs.

    backend = open_backend(ctx, "ray")       # checks Ray is installed; starts nothing yet
    executor = backend.executor(ctx, jobs=None)   # the first one connects (or starts Ray)
    ...
    backend.close()                          # stops a Ray that it started

A backend outlives the executors it makes, so several pipeline executions can share one
Ray connection. Opening one is cheap, so an up-to-date `monoloop run` that never
starts a stage pays nothing for it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

from monoloop.errors import InvalidInput, UserError

if TYPE_CHECKING:
    from monoloop.pipelines.context import PipelineContext
    from monoloop.pipelines.executor import Executor

EXECUTORS = ("local", "ray")


class ExecutorUnavailable(UserError):
    """The chosen executor cannot run here: its package is missing or its cluster is out of
    reach."""


class Backend(Protocol):
    name: str

    def executor(self, ctx: PipelineContext, *, jobs: int | None) -> Executor:
        """An executor for one pipeline execution in `ctx` (its root, its store)."""
        ...

    def capacity(self) -> int:
        """How many stages can usefully run at once: CPUs here, or in the Ray cluster."""
        ...

    def close(self) -> None: ...


class LocalBackend:
    name = "local"

    def executor(self, ctx: PipelineContext, *, jobs: int | None) -> Executor:
        from monoloop.pipelines.executor import LocalExecutor

        return LocalExecutor(
            ctx.root, ctx.objects, jobs=jobs or self.capacity(), clock=ctx.cache.clock
        )

    def capacity(self) -> int:
        return os.cpu_count() or 1

    def close(self) -> None:
        pass


def choose(ctx: PipelineContext, name: str | None) -> str:
    """The executor's name: `name` if given, else the config's, else 'local'."""
    chosen = name or str(ctx.execution.get("executor") or "local")
    if chosen not in EXECUTORS:
        raise InvalidInput(
            f"unknown executor {chosen!r}",
            hint="use --executor local or --executor ray",
        )
    return chosen


def open_backend(ctx: PipelineContext, name: str | None = None) -> Backend:
    """The backend for `name` (see `choose`); ExecutorUnavailable when Ray is missing."""
    if choose(ctx, name) == "ray":
        from monoloop.pipelines.ray_executor import RayBackend

        return RayBackend(ctx.execution.get("ray") or {}, ctx.env)
    return LocalBackend()

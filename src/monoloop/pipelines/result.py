"""What a pipeline run (or a dry run) did, stage by stage; plain data for every adapter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from monoloop.errors import MonoloopError

# Statuses of a stage after a run...
RAN, FAILED, SKIPPED, RESTORED, BLOCKED = "ran", "failed", "skipped", "restored", "blocked"
KILLED = "killed"  # stopped by an interrupt
# ...and in a dry run.
WOULD_RUN, WOULD_RESTORE = "would run", "would restore"
RUNNING = "running"


if TYPE_CHECKING:

    class Progress(Protocol):
        """Told about each stage as its state changes; keyword-only, extra keywords ignored."""

        def __call__(
            self, *, stage: str, state: str, seconds: float | None, reasons: list[str], **_: Any
        ) -> None: ...


@dataclass
class StageResult:
    id: str
    pipeline: str
    stage: str
    status: str
    reasons: list[str] = field(default_factory=list)
    seconds: float | None = None
    run_id: str | None = None
    exit_code: int | None = None
    error: str | None = None
    log: str | None = None
    log_id: str | None = None
    log_tail: list[str] = field(default_factory=list)
    outs: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class PipelineResult:
    stages: list[StageResult] = field(default_factory=list)
    dry_run: bool = False
    lock_changed: bool = False
    params: dict[str, Any] = field(default_factory=dict)  # the -p overrides

    @property
    def ok(self) -> bool:
        return not any(s.status in (FAILED, BLOCKED, KILLED) for s in self.stages)

    @property
    def failed(self) -> list[StageResult]:
        return [s for s in self.stages if s.status == FAILED]

    def count(self, status: str) -> int:
        return sum(1 for s in self.stages if s.status == status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "dry_run": self.dry_run,
            "lock_changed": self.lock_changed,
            "params": self.params,
            "stages": [s.to_dict() for s in self.stages],
        }


def notify(progress: Progress | Callable[..., None] | None, result: StageResult) -> None:
    if progress is not None:
        progress(
            stage=result.id, state=result.status, seconds=result.seconds, reasons=result.reasons
        )


class StageFailed(MonoloopError):
    """A stage exited non-zero or did not write its outputs (exit 1)."""

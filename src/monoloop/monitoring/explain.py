"""Explainability over time: which features each version of a model relies on.

    found = explain(ws, "churn", top=3, deployment="churn-api")
    found.table      # feature -> {version: permutation importance}
    found.changes    # where the top-k features changed from one version to the next
    found.live       # importance recomputed on the deployment's labelled window

Each version's importance was measured at registration (permutation importance on its
holdout set). With a deployment whose predictions have labels, the serving version's
importance is measured again on live rows: a model that now relies on different features
than it was validated with is worth an alert of its own (the `importance` monitor check).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from monoloop.errors import InvalidInput
from monoloop.monitoring.checks import top_features
from monoloop.workspace import Workspace

DEFAULT_LIVE_LABELS = 50


@dataclass
class Explanation:
    model: str
    top: int
    versions: list[int]
    features: list[str]
    table: dict[str, dict[int, float | None]]
    changes: list[dict[str, Any]] = field(default_factory=list)
    live: dict[str, Any] | None = None

    @property
    def flagged(self) -> bool:
        """The top-k changed between versions, or the live top-k differs from training's."""
        return bool(self.changes) or bool(self.live and self.live.get("changed"))

    def lines(self) -> list[tuple[str, str | None]]:
        """A table a terminal shows: features down, versions (and live) across."""
        if not self.versions:
            return [(f"no version of {self.model} has feature importance (no holdout set)", None)]
        live = self.live.get("importance") if self.live else None
        live_by = {str(r["feature"]): float(r["importance"]) for r in live or []}
        heads = [f"v{v}" for v in self.versions] + (["live"] if live_by else [])
        width = max(len(f) for f in [*self.features, "feature"])
        out: list[tuple[str, str | None]] = [
            (f"{'feature':<{width}}  " + "  ".join(f"{h:>8}" for h in heads), "dim")
        ]
        for feature in self.features:
            cells = [self.table[feature].get(v) for v in self.versions]
            if live_by:
                cells.append(live_by.get(feature))
            shown = "  ".join(f"{x:>8.4f}" if x is not None else f"{'-':>8}" for x in cells)
            out.append((f"{feature:<{width}}  {shown}", None))
        for change in self.changes:
            out.append(
                (
                    f"top {self.top} changed v{change['from']} -> v{change['to']}: "
                    f"+{', '.join(change['entered'])} -{', '.join(change['left'])}",
                    "yellow",
                )
            )
        if self.live is not None:
            color = "red" if self.live.get("changed") else None
            out.append((f"live ({self.live['deployment']}): {self.live['summary']}", color))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "top": self.top,
            "versions": self.versions,
            "features": self.features,
            "importance": {f: {str(v): x for v, x in row.items()} for f, row in self.table.items()},
            "changes": self.changes,
            "live": self.live,
            "flagged": self.flagged,
        }


def explain(
    ws: Workspace,
    name: str,
    *,
    top: int = 3,
    deployment: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Explanation:
    from monoloop.registry.versions import list_versions

    if top < 1:
        raise InvalidInput(f"--top must be at least 1, got {top}")
    versions = [v for v in list_versions(ws, name) if v.importance]
    table: dict[str, dict[int, float | None]] = {}
    for mv in versions:
        for row in mv.importance or []:
            table.setdefault(str(row["feature"]), {})[mv.version] = float(row["importance"])
    numbers = [v.version for v in versions]
    for scores in table.values():
        for number in numbers:
            scores.setdefault(number, None)
    latest = numbers[-1] if numbers else 0
    # Features in the order the latest version ranks them.
    features = sorted(table, key=lambda f: -(table[f].get(latest) or 0.0))
    changes = []
    for before, after in itertools.pairwise(versions):
        was, now = (
            top_features(before.importance or [], top),
            top_features(after.importance or [], top),
        )
        if set(was) != set(now):
            changes.append(
                {
                    "from": before.version,
                    "to": after.version,
                    "entered": [f for f in now if f not in was],
                    "left": [f for f in was if f not in now],
                }
            )
    found = Explanation(name, top, numbers, features, table, changes)
    if deployment is not None:
        found.live = _live(ws, name, deployment, top, clock())
    return found


def _live(ws: Workspace, name: str, deployment: str, top: int, now: float) -> dict[str, Any]:
    """Permutation importance of the serving version on the deployment's labelled window."""
    from monoloop.monitoring import checks
    from monoloop.monitoring.labels import check_deployment, join
    from monoloop.monitoring.monitors import read_window
    from monoloop.monitoring.spec import ImportanceSpec, WindowSpec
    from monoloop.registry.loading import load_version
    from monoloop.registry.versions import get_version

    check_deployment(ws, deployment)
    served = ws.config.deployments[deployment].model.partition("@")[0]
    if served != name:
        raise InvalidInput(
            f"deployment {deployment!r} serves {served!r}, not {name!r}",
            hint=f"explain {served}, or name a deployment of {name}",
        )
    monitor = ws.config.monitors.get(deployment)
    window_spec = monitor.window if monitor is not None else WindowSpec(last=1000)
    spec = (monitor.importance if monitor is not None else None) or ImportanceSpec(
        top=top, min_labels=DEFAULT_LIVE_LABELS
    )
    spec = spec.model_copy(update={"top": top})
    window = read_window(ws, deployment, now=now, last=window_spec.last, hours=window_spec.hours)
    base: dict[str, Any] = {"deployment": deployment, "window": window_spec.describe()}
    if window.version is None:
        return {**base, "verdict": "skipped", "summary": "no predictions logged in the window"}
    mv = get_version(ws, f"{name}:{window.version}")
    labelled = join(ws, deployment, window.rows)
    model = load_version(ws, mv) if len(labelled) >= spec.min_labels else None
    finding = checks.importance(model, mv.task or "classification", labelled, spec, mv.importance)
    stats = finding.statistics
    return {
        **base,
        "version": mv.version,
        "labelled": len(labelled),
        "verdict": finding.verdict,
        "summary": finding.summary,
        "changed": finding.fired,
        "top": stats.get("live_top"),
        "registered_top": stats.get("registered_top"),
        "importance": stats.get("live"),
    }

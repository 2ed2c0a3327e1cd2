"""Lineage of a model version, as a chain a reviewer can follow:

    data versions -> pipeline runs -> Git commit -> model version -> aliases -> deployments

with the ledger events that made each link (data.add, run.*, model.register, model.promote,
model.rollback, ..., and the ct.* events of the retraining cycles the version took part
in), so "why is this the champion, and where did it come from?" has an answer from the
records alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monoloop.ledger import Event
from monoloop.registry.model import ModelRef, ModelVersion
from monoloop.registry.versions import get_version
from monoloop.tracking.model import Run, from_iso, iso
from monoloop.workspace import Workspace

MAX_DEPTH = 20


@dataclass
class Lineage:
    version: ModelVersion
    data: dict[str, str]
    runs: list[Run]
    commit: str | None
    aliases: list[str]
    deployments: list[str]
    events: list[Event] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.model,
            "version": self.version.version,
            "data": dict(self.data),
            "runs": [
                {
                    "id": r.id,
                    "name": r.name,
                    "pipeline": r.pipeline,
                    "stage": r.stage,
                    "status": r.status,
                    "start": iso(r.start),
                    "git_commit": r.git_commit,
                    "inputs": r.inputs,
                    "outputs": r.outputs,
                }
                for r in self.runs
            ],
            "commit": self.commit,
            "aliases": self.aliases,
            "deployments": self.deployments,
            "events": [e.to_dict() for e in self.events],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, version: ModelVersion) -> Lineage:
        """The lineage `to_dict` described; its runs carry the fields lineage shows."""
        runs = [
            Run(
                id=r["id"],
                name=r["name"],
                pipeline=r["pipeline"],
                stage=r["stage"],
                status=r["status"],
                start=from_iso(r["start"]) or 0.0,
                end=None,
                git_commit=r["git_commit"],
                git_dirty=None,
                python=None,
                packages_hash=None,
                inputs=dict(r["inputs"]),
                outputs=dict(r["outputs"]),
            )
            for r in d["runs"]
        ]
        return cls(
            version=version,
            data=dict(d["data"]),
            runs=runs,
            commit=d["commit"],
            aliases=list(d["aliases"]),
            deployments=list(d["deployments"]),
            events=[Event.from_dict(e) for e in d["events"]],
        )


def lineage(ws: Workspace, ref: str | ModelRef) -> Lineage:
    from monoloop.tracking.service import get_run, producers

    mv = get_version(ws, ref)
    runs: dict[str, Run] = {}
    data: dict[str, str] = dict(mv.inputs)
    frontier: list[Run] = [get_run(ws, mv.run_id)] if mv.run_id else []
    depth = 0
    # Walk upstream: the runs that wrote each input, then the runs that wrote theirs.
    while frontier and depth < MAX_DEPTH:
        depth += 1
        wanted: set[str] = set()
        for run in frontier:
            if run.id in runs:
                continue
            runs[run.id] = run
            for path, oid in run.inputs.items():
                data.setdefault(path, oid)
                wanted.add(oid)
        frontier = [r for r in producers(ws, sorted(wanted)) if r.id not in runs]
    ordered = sorted(runs.values(), key=lambda r: r.start)
    return Lineage(
        version=mv,
        data=dict(sorted(data.items())),
        runs=ordered,
        commit=mv.git_commit,
        aliases=mv.aliases,
        deployments=_deployments(ws, mv),
        events=_events(ws, mv, data, ordered),
    )


def _deployments(ws: Workspace, mv: ModelVersion) -> list[str]:
    """Deployments serving this version now, through one of its aliases, with the role."""
    held = {f"{mv.model}@{a}" for a in mv.aliases}
    found = []
    for name, spec in ws.config.deployments.items():
        found += [f"{name} ({role})" for role, ref in spec.refs() if ref in held]
    return sorted(found)


def _events(ws: Workspace, mv: ModelVersion, data: dict[str, str], runs: list[Run]) -> list[Event]:
    from monoloop.audit.service import EventFilter, log

    found: dict[int, Event] = {}
    subjects = [mv.ref, *(r.id for r in runs), *data]
    for subject in subjects:
        for event in log(ws, EventFilter(subject=subject)):
            found[event.seq] = event
    # Alias moves that put this version in place or took it away.
    for event in log(ws, EventFilter(kind="model.*")):
        if event.subject.startswith(f"{mv.model}@") and mv.version in (
            event.payload.get("version"),
            event.payload.get("previous"),
        ):
            found[event.seq] = event
    # Retraining cycles (ct.*) that involved this version, whole: what triggered them,
    # the gates, the canary and the decision, so "why did the champion change?" reads here.
    ct_events = log(ws, EventFilter(kind="ct.*"))
    involved = {
        e.payload.get("cycle")
        for e in ct_events
        if e.payload.get("model") == mv.model
        and mv.version in (e.payload.get("champion"), e.payload.get("challenger"))
    }
    for event in ct_events:
        if event.payload.get("cycle") in involved - {None}:
            found[event.seq] = event
    return [found[seq] for seq in sorted(found)]

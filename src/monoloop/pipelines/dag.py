"""Stages as plain data, and the graph they form: checks, topological order, parallel levels.

Pure: no files, no DB, no pydantic. The same `Stage` values come from the validated
pydantic models (`spec`) and from the config stamp on the fast path, so both paths
run the same checks. A stage depends on another when one of its deps is, contains,
or lies inside one of the other's outputs.
"""

from __future__ import annotations

import bisect
import heapq
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monoloop.errors import ConfigError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Paths a stage may neither read as a produced output nor write.
RESERVED = (".git", ".monoloop", "monoloop.yaml", "monoloop.lock")


class PipelineError(ConfigError):
    """A pipeline definition is inconsistent: a cycle, a clash of outputs, a missing input."""


TABULAR = (".csv", ".tsv", ".parquet", ".jsonl", ".csv.gz", ".tsv.gz", ".jsonl.gz")


def stage_contracts(raw: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """`validate: {input, output}` as (side, path, contract): a contract name alone applies
    to every tabular dep (or out); a mapping names paths."""
    spec = raw.get("validate_") or raw.get("validate") or {}
    found: list[tuple[str, str, str]] = []
    for side, key in (("input", "deps"), ("output", "outs")):
        wanted = spec.get(side)
        if isinstance(wanted, str):
            found += [(side, p, wanted) for p in raw.get(key) or () if p.endswith(TABULAR)]
        elif isinstance(wanted, Mapping):
            found += [(side, str(p), str(c)) for p, c in sorted(wanted.items())]
    return tuple(found)


@dataclass(frozen=True)
class Stage:
    pipeline: str
    name: str
    cmd: str | None = None
    call: str | None = None
    deps: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    persist: bool = False
    # (side, path, contract): data contracts checked on deps ("input") or outs ("output")
    contracts: tuple[tuple[str, str, str], ...] = ()
    # (name, amount) of `resources:` that are set: what an executor reserves for it. Not in
    # `definition()`: where and with how much a stage runs does not change what it makes.
    resources: tuple[tuple[str, float], ...] = ()

    @property
    def id(self) -> str:
        # Inside one pipeline's validation the pipeline is not known yet: the name alone.
        return f"{self.pipeline}:{self.name}" if self.pipeline else self.name

    @property
    def written(self) -> tuple[str, ...]:
        """Every path the stage writes: outputs and metrics files."""
        return self.outs + self.metrics

    def definition(self) -> dict[str, Any]:
        """What the stage says, for its cache key. Only set keys appear, so a key added to
        the schema later (with a default) does not invalidate every lock."""
        found: dict[str, Any] = {"cmd": self.cmd} if self.cmd is not None else {"call": self.call}
        for key in ("deps", "params", "outs", "metrics"):
            values = getattr(self, key)
            if values:
                found[key] = sorted(values)
        if self.persist:
            found["persist"] = True
        if self.contracts:
            found["validate"] = [list(c) for c in self.contracts]
        return found

    @classmethod
    def from_raw(cls, pipeline: str, name: str, raw: Mapping[str, Any]) -> Stage:
        """From a validated stage mapping (`Stage.model_dump()` in the config stamp)."""
        return cls(
            pipeline,
            name,
            cmd=raw.get("cmd"),
            call=raw.get("call"),
            deps=tuple(raw.get("deps") or ()),
            params=tuple(raw.get("params") or ()),
            outs=tuple(raw.get("outs") or ()),
            metrics=tuple(raw.get("metrics") or ()),
            persist=bool(raw.get("persist")),
            contracts=stage_contracts(raw),
            resources=tuple(
                sorted((k, v) for k, v in (raw.get("resources") or {}).items() if v is not None)
            ),
        )


def stages_from_raw(pipelines: Mapping[str, Any]) -> dict[str, list[Stage]]:
    """pipeline -> its stages in definition order, from `Config.model_dump()["pipelines"]`."""
    for name in pipelines:
        if not NAME.match(name):
            raise PipelineError(
                f"pipeline name {name!r} must be letters, digits, '.', '_' or '-'",
                hint="rename it under `pipelines:` in monoloop.yaml",
            )
    return {
        name: [Stage.from_raw(name, s, raw) for s, raw in (spec.get("stages") or {}).items()]
        for name, spec in pipelines.items()
    }


def overlaps(a: str, b: str) -> bool:
    """Same path, or one inside the other."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/")


def overlapping(ordered: list[str], known: Mapping[str, object], path: str) -> list[str]:
    """The paths of `known` (sorted in `ordered`) that `path` equals, lies in or holds:
    dict lookups for the directories above it, a bisection for the paths below it."""
    parts = path.split("/")
    found = [p for p in ("/".join(parts[:i]) for i in range(1, len(parts) + 1)) if p in known]
    prefix = path + "/"
    i = bisect.bisect_left(ordered, prefix)
    while i < len(ordered) and ordered[i].startswith(prefix):
        found.append(ordered[i])
        i += 1
    return found


@dataclass
class Graph:
    """Stages and who needs whom. `needs[s]` are the stages whose outputs `s` reads."""

    stages: dict[str, Stage]
    needs: dict[str, set[str]] = field(default_factory=dict)
    producer: dict[str, str] = field(default_factory=dict)  # written path -> stage id
    _sorted: list[str] = field(default_factory=list, repr=False)

    @property
    def feeds(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {sid: set() for sid in self.stages}
        for sid, ups in self.needs.items():
            for up in ups:
                found[up].add(sid)
        return found

    def producer_of(self, dep: str) -> list[str]:
        """Stages writing `dep`, a path inside it, or a directory that holds it."""
        return sorted({self.producer[p] for p in overlapping(self._written, self.producer, dep)})

    @property
    def _written(self) -> list[str]:
        if len(self._sorted) != len(self.producer):
            self._sorted = sorted(self.producer)
        return self._sorted

    def upstream(self, targets: Iterable[str]) -> set[str]:
        """`targets` and every stage they need, transitively."""
        seen: set[str] = set()
        todo = list(targets)
        while todo:
            sid = todo.pop()
            if sid not in seen:
                seen.add(sid)
                todo.extend(self.needs[sid])
        return seen

    def downstream(self, sources: Iterable[str]) -> set[str]:
        """Every stage that needs one of `sources`, transitively (not the sources)."""
        feeds = self.feeds
        seen: set[str] = set()
        todo = [d for s in sources for d in feeds[s]]
        while todo:
            sid = todo.pop()
            if sid not in seen:
                seen.add(sid)
                todo.extend(feeds[sid])
        return seen


def build(stages: Sequence[Stage]) -> Graph:
    """The graph of `stages`; PipelineError for clashing outputs and for cycles."""
    graph = Graph({s.id: s for s in stages})
    writers: dict[str, str] = {}
    ordered: list[str] = []
    for stage in stages:
        for path in stage.written:
            clash = overlapping(ordered, writers, path)
            if clash:
                raise _clash(graph.stages[writers[clash[0]]], clash[0], stage, path)
            writers[path] = stage.id
            bisect.insort(ordered, path)
    graph.producer, graph._sorted = writers, ordered
    for stage in stages:
        ups: set[str] = set()
        for dep in stage.deps:
            ups.update(graph.producer_of(dep))
        if stage.id in ups:
            raise PipelineError(
                f"stage '{stage.id}' depends on its own output: a stage cannot read what it writes",
                hint=f"remove the path from deps or from outs of stage '{stage.name}'",
            )
        graph.needs[stage.id] = ups
    cycle = find_cycle(graph.needs)
    if cycle:
        shown = " -> ".join([*cycle, cycle[0]])
        raise PipelineError(
            f"pipeline stages form a cycle: {shown}",
            hint="each stage must only read outputs of stages that run before it; "
            "break the cycle by removing one of these deps",
        )
    return graph


def _clash(first: Stage, first_path: str, second: Stage, second_path: str) -> PipelineError:
    if first.id == second.id:
        what = (
            f"lists {first_path} twice"
            if first_path == second_path
            else f"writes both {first_path} and {second_path}, which lie inside each other"
        )
        return PipelineError(
            f"stage '{first.id}' {what}", hint="name each output once, in outs or in metrics"
        )
    where = first_path if first_path == second_path else f"{first_path} and {second_path}"
    return PipelineError(
        f"{where}: stages '{first.id}' and '{second.id}' both write it",
        hint=f"an output must have one writer; remove it from stage '{second.name}' "
        f"or '{first.name}'",
    )


def find_cycle(needs: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One cycle (in dependency order) if the graph has any, else None. Iterative DFS."""
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(needs, white)
    for start in sorted(needs):
        if color[start] != white:
            continue
        path: list[str] = [start]
        iters = [iter(sorted(needs[start]))]
        color[start] = grey
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                color[path.pop()] = black
                iters.pop()
            elif color[nxt] == grey:
                cycle = path[path.index(nxt) :]
                cycle.reverse()  # from "needs" order to the order stages would run
                return cycle
            elif color[nxt] == white:
                color[nxt] = grey
                path.append(nxt)
                iters.append(iter(sorted(needs[nxt])))
    return None


def order(needs: Mapping[str, Iterable[str]]) -> list[str]:
    """A topological order (each stage after all it needs); ties broken by name, so stable."""
    remaining = {sid: set(ups) for sid, ups in needs.items()}
    feeds: dict[str, list[str]] = {sid: [] for sid in needs}
    for sid, ups in remaining.items():
        for up in ups:
            feeds[up].append(sid)
    ready = [sid for sid, ups in remaining.items() if not ups]
    heapq.heapify(ready)
    found: list[str] = []
    while ready:
        sid = heapq.heappop(ready)
        found.append(sid)
        for down in feeds[sid]:
            remaining[down].discard(sid)
            if not remaining[down]:
                heapq.heappush(ready, down)
    if len(found) != len(remaining):
        cycle = find_cycle(needs) or []
        raise PipelineError(f"pipeline stages form a cycle: {' -> '.join(cycle)}")
    return found


def levels(needs: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Stages grouped by depth: every stage in a level can run once the earlier levels ran."""
    depth: dict[str, int] = {}
    for sid in order(needs):
        depth[sid] = 1 + max((depth[up] for up in needs[sid]), default=-1)
    grouped: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for sid, d in depth.items():
        grouped[d].append(sid)
    return [sorted(level) for level in grouped]


def check_params(
    stage: Stage, has: Callable[[str], bool], keys: Sequence[str], source: str = "params.yaml"
) -> None:
    """PipelineError naming the first param of `stage` that `has` does not know."""
    for key in stage.params:
        if not has(key):
            import difflib

            close = difflib.get_close_matches(key, sorted(keys), n=1)
            guess = f"; did you mean '{close[0]}'?" if close else ""
            raise PipelineError(
                f"stage '{stage.id}' uses param '{key}', which is not in {source}{guess}",
                hint=f"add '{key}' to {source} or remove it from the stage's params",
            )


def select(graph: Graph, pipeline: str | None, stage: str | None) -> list[str]:
    """Stage ids to run, in order: a pipeline's stages (or every stage), or one stage, each
    with every stage it needs, in whichever pipeline that stage is declared."""
    chosen = [sid for sid, s in graph.stages.items() if pipeline is None or s.pipeline == pipeline]
    if stage is not None:
        matches = [sid for sid in chosen if stage in (sid, graph.stages[sid].name)]
        if not matches:
            known = ", ".join(sorted(graph.stages[s].name for s in chosen)) or "none"
            scope = f"pipeline '{pipeline}'" if pipeline else "any pipeline"
            raise PipelineError(
                f"no stage '{stage}' in {scope} (stages: {known})",
                hint="name a stage from the list, or PIPELINE:STAGE",
            )
        if len(matches) > 1:
            raise PipelineError(
                f"stage name '{stage}' is in several pipelines: {', '.join(sorted(matches))}",
                hint="name the pipeline too: `monoloop run PIPELINE --stage STAGE`",
            )
        chosen = matches
    wanted = graph.upstream(chosen)
    return order({sid: graph.needs[sid] for sid in wanted})


def check_inputs(graph: Graph, sids: Iterable[str], exists: Callable[[str], bool]) -> None:
    """PipelineError for the first dep that no stage writes and `exists` does not find."""
    for sid in sids:
        stage = graph.stages[sid]
        for dep in stage.deps:
            if not graph.producer_of(dep) and not exists(dep):
                raise PipelineError(
                    f"stage '{sid}' needs {dep}, which no stage writes and which is neither in "
                    "the working tree nor tracked as data",
                    hint=f"create {dep}, track it with `monoloop data add`, add a stage that "
                    f"writes it, or remove it from the deps of stage '{stage.name}'",
                )

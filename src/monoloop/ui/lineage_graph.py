"""A model version's lineage as a graph in inline SVG: data -> runs -> commit -> version ->
aliases -> deployments, every node a link to its page, every edge an arrow.

    graph = build(trace, {"churn-api": [("primary", "churn@champion")]})
    svg = to_svg(graph)

`build` turns a `Lineage` into nodes and edges (plain data); `layout` puts each node in a
column by the longest path to it (a source sits just before its first consumer) and
orders each column by its predecessors' places; `to_svg` draws it: no script, no external
reference, the same output for the same lineage. The edges:

    data -> run          the run read it            run -> data    the run wrote it
    run -> commit        the run that made the version, at the version's commit; another
                         run at another commit, to that commit (no commit: run -> version)
    commit -> version    data nobody in the trace read -> version (the version's inputs)
    version -> alias     alias -> deployment (role), for each deployment serving it
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote

from monoloop.registry.lineage import Lineage

KINDS = ("data", "run", "commit", "version", "alias", "deployment")
FILL = {
    "data": "#eef4fb",
    "run": "#eef8ee",
    "commit": "#f6f6f6",
    "version": "#fff3e0",
    "alias": "#f6eefa",
    "deployment": "#e8f6f6",
}
COL_W, NODE_W, NODE_H, ROW_H, PAD = 172, 144, 36, 46, 8
LABEL_CHARS = 22
RELATION = {  # what an edge between these kinds means, for its tooltip
    ("data", "run"): "read by",
    ("run", "data"): "wrote",
    ("run", "commit"): "ran at",
    ("run", "version"): "made",
    ("commit", "version"): "built",
    ("data", "version"): "input of",
    ("version", "alias"): "held by",
    ("alias", "deployment"): "served by",
}


@dataclass
class Node:
    id: str
    kind: str
    label: str
    detail: str  # the full text: the link's accessible name and its tooltip
    href: str
    layer: int = 0
    row: int = 0


@dataclass(frozen=True)
class Edge:
    source: str
    target: str


@dataclass
class Graph:
    title: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def describe(self) -> str:
        """The graph in one sentence per kind, for `<desc>`."""
        parts = []
        for kind in KINDS:
            labels = [n.label for n in self.nodes if n.kind == kind]
            if labels:
                parts.append(f"{kind}: {', '.join(labels)}")
        return f"{self.title}, from data to deployments. " + "; ".join(parts) + "."


def build(trace: Lineage, deployments: Mapping[str, Sequence[tuple[str, str]]]) -> Graph:
    """The lineage's graph. `deployments`: each deployment's (role, NAME@ALIAS) pairs."""
    mv = trace.version
    graph = Graph(f"Lineage of {mv.model} version {mv.version}")
    ids: dict[tuple[str, str], str] = {}

    def add(kind: str, key: str, label: str, detail: str, href: str) -> str:
        if (kind, key) not in ids:
            ids[(kind, key)] = f"n{len(graph.nodes)}"
            graph.nodes.append(Node(ids[(kind, key)], kind, label, detail, href))
        return ids[(kind, key)]

    def link(source: str, target: str) -> None:
        edge = Edge(source, target)
        if source != target and edge not in graph.edges:
            graph.edges.append(edge)

    for path, oid in trace.data.items():
        name = path.rstrip("/").rsplit("/", 1)[-1] or "data"
        href = f"/objects/{oid}?name={quote(name)}"
        add("data", path, path, f"data {path} ({oid[:15]})", href)
    commits = [mv.git_commit] if mv.git_commit else []
    commits += sorted({r.git_commit for r in trace.runs if r.git_commit} - set(commits))
    runs = {}
    for run in trace.runs:
        label = run.name or run.id[:8]
        at = f" at {run.git_commit[:10]}" if run.git_commit else ""
        detail = f"run {label} ({run.stage or 'script'}, {run.status}){at}"
        runs[run.id] = add("run", run.id, label, detail, f"/runs/{run.id}")
    for sha in commits:
        where = quote(f'git_commit = "{sha}"')
        add("commit", sha, sha[:10], f"commit {sha}", f"/?where={where}")
    version = add(
        "version",
        mv.ref,
        f"{mv.model} v{mv.version}",
        f"version {mv.model} v{mv.version}",
        f"/models/{mv.model}/versions/{mv.version}",
    )
    for alias in sorted(mv.aliases):
        add("alias", alias, f"@{alias}", f"alias {mv.model}@{alias}", f"/models/{mv.model}#h-h")
    for name in sorted(deployments):
        for role, ref in deployments[name]:
            model, _, alias = ref.partition("@")
            if model == mv.model and alias in mv.aliases:
                label = f"{name} ({role})"
                add("deployment", label, label, f"deployment {label}", f"/deployments#dep-{name}")
                link(ids[("alias", alias)], ids[("deployment", label)])

    for run in trace.runs:
        for path in run.inputs:
            if ("data", path) in ids:
                link(ids[("data", path)], runs[run.id])
        for path, oid in run.outputs.items():
            if trace.data.get(path) == oid and path not in run.inputs:
                link(runs[run.id], ids[("data", path)])
        if run.id == mv.run_id:
            link(runs[run.id], ids[("commit", mv.git_commit)] if mv.git_commit else version)
        elif run.git_commit and run.git_commit != mv.git_commit:
            link(runs[run.id], ids[("commit", run.git_commit)])
    if mv.git_commit:
        link(ids[("commit", mv.git_commit)], version)
    read = {e.source for e in graph.edges}
    for node in graph.nodes:
        if node.kind == "data" and node.id not in read:
            link(node.id, version)
    for alias in sorted(mv.aliases):
        link(version, ids[("alias", alias)])
    graph.edges.sort(key=lambda e: (int(e.source[1:]), int(e.target[1:])))
    layout(graph)
    return graph


def layout(graph: Graph) -> None:
    """Columns by the longest path from a source (a source moves right, to just before its
    first consumer); rows ordered by the mean row of each node's predecessors."""
    preds: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    succs: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for e in graph.edges:
        preds[e.target].append(e.source)
        succs[e.source].append(e.target)
    layer: dict[str, int] = {}

    def depth(node: str, visiting: frozenset[str]) -> int:
        if node not in layer:
            back = [p for p in preds[node] if p not in visiting]  # a cycle's back edge: ignored
            layer[node] = 1 + max((depth(p, visiting | {node}) for p in back), default=-1)
        return layer[node]

    for node in graph.nodes:
        depth(node.id, frozenset())
    for node in graph.nodes:
        later = [layer[s] for s in succs[node.id] if layer[s] > layer[node.id]]
        if not preds[node.id] and later:
            layer[node.id] = min(later) - 1
    rank = {kind: i for i, kind in enumerate(KINDS)}
    order = {n.id: i for i, n in enumerate(graph.nodes)}
    row: dict[str, float] = {}
    for column in sorted(set(layer.values())):
        members = [n for n in graph.nodes if layer[n.id] == column]

        def place(n: Node) -> tuple[float, int, int]:
            before = [row[p] for p in preds[n.id] if p in row]
            centre = sum(before) / len(before) if before else -1.0
            return (centre, rank[n.kind], order[n.id])

        for i, n in enumerate(sorted(members, key=place)):
            n.layer, n.row = column, i
            row[n.id] = i - (len(members) - 1) / 2  # centred, so columns line up


def to_svg(graph: Graph) -> str:
    count: dict[int, int] = {}
    for n in graph.nodes:
        count[n.layer] = count.get(n.layer, 0) + 1
    columns, tallest = max(count, default=0) + 1, max(count.values(), default=1)
    width = columns * COL_W - (COL_W - NODE_W) + 2 * PAD
    height = tallest * ROW_H - (ROW_H - NODE_H) + 2 * PAD
    at: dict[str, tuple[float, float]] = {}
    for n in graph.nodes:
        top = PAD + (tallest - count[n.layer]) * ROW_H / 2
        at[n.id] = (PAD + n.layer * COL_W, top + n.row * ROW_H)
    parts = [
        f'<svg id="lineage-graph" class="lineage-graph" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="sans-serif" role="group" '
        'aria-labelledby="lineage-graph-title" aria-describedby="lineage-graph-desc">',
        f'<title id="lineage-graph-title">{escape(graph.title)}</title>',
        f'<desc id="lineage-graph-desc">{escape(graph.describe())}</desc>',
        '<defs><marker id="lineage-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#666666"/></marker></defs>',
    ]
    for e in graph.edges:  # under the nodes
        (x1, y1), (x2, y2) = at[e.source], at[e.target]
        x1, y1, y2 = x1 + NODE_W, y1 + NODE_H / 2, y2 + NODE_H / 2
        bend = max(abs(x2 - x1) / 2, 30)
        source, target = graph.node(e.source), graph.node(e.target)
        relation = RELATION.get((source.kind, target.kind), "to")
        tip = f"{source.label} {relation} {target.label}"
        parts.append(
            f'<path class="edge" data-from="{e.source}" data-to="{e.target}" '
            f'd="M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} '
            f'{x2 - 1:.1f},{y2:.1f}" fill="none" stroke="#8a8a8a" stroke-width="1.4" '
            f'marker-end="url(#lineage-arrow)"><title>{escape(tip)}</title></path>'
        )
    for n in graph.nodes:
        x, y = at[n.id]
        label = n.label if len(n.label) <= LABEL_CHARS else n.label[: LABEL_CHARS - 1] + "…"
        parts.append(
            f'<a class="node node-{n.kind}" data-node="{n.id}" href="{escape(n.href)}" '
            f'aria-label="{escape(n.detail)}"><title>{escape(n.detail)}</title>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="5" '
            f'fill="{FILL[n.kind]}" stroke="#9aa5b1"/>'
            f'<text x="{x + 8:.1f}" y="{y + 13:.1f}" font-size="9" fill="#666666">{n.kind}</text>'
            f'<text x="{x + 8:.1f}" y="{y + 28:.1f}" font-size="11.5" fill="#1f3b63">'
            f"{escape(label)}</text></a>"
        )
    parts.append("</svg>")
    return "".join(parts)

"""The stage graph: edges from paths, clashes, cycles, order and levels (pure, no files)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monoloop.pipelines import cache, dag
from monoloop.pipelines.lock import Entry


def stage(name: str, deps: tuple[str, ...] = (), outs: tuple[str, ...] = ()) -> dag.Stage:
    return dag.Stage("p", name, cmd="true", deps=deps, outs=outs)


def test_edges_follow_paths_including_directories() -> None:
    graph = dag.build(
        [
            stage("raw", outs=("data/raw",)),
            stage("one", deps=("data/raw/a.csv",), outs=("models/m.pkl",)),
            stage("all", deps=("models",), outs=("report.md",)),
        ]
    )
    assert graph.needs == {"p:raw": set(), "p:one": {"p:raw"}, "p:all": {"p:one"}}
    assert dag.order(graph.needs) == ["p:raw", "p:one", "p:all"]
    assert graph.producer_of("data") == ["p:raw"]
    assert graph.producer_of("data/rawer") == []


def test_two_writers_of_one_path_are_refused() -> None:
    with pytest.raises(dag.PipelineError, match="stages 'p:a' and 'p:b' both write it"):
        dag.build([stage("a", outs=("m/x",)), stage("b", outs=("m",))])


def test_a_stage_reading_its_own_output_is_refused() -> None:
    with pytest.raises(dag.PipelineError, match="depends on its own output"):
        dag.build([stage("a", deps=("x",), outs=("x",))])


def test_a_cycle_is_named() -> None:
    with pytest.raises(dag.PipelineError) as info:
        dag.build(
            [
                stage("a", deps=("c.txt",), outs=("a.txt",)),
                stage("b", deps=("a.txt",), outs=("b.txt",)),
                stage("c", deps=("b.txt",), outs=("c.txt",)),
            ]
        )
    message = info.value.message
    assert "cycle" in message and all(f"p:{n}" in message for n in "abc")
    assert info.value.hint


def test_levels_group_independent_stages() -> None:
    needs = {"a": set(), "b": set(), "c": {"a", "b"}, "d": {"a"}, "e": {"c", "d"}}
    assert dag.levels(needs) == [["a", "b"], ["c", "d"], ["e"]]


def test_select_takes_a_stage_and_what_it_needs() -> None:
    graph = dag.build(
        [
            stage("a", outs=("a",)),
            stage("b", deps=("a",), outs=("b",)),
            stage("c", deps=("a",), outs=("c",)),
        ]
    )
    assert dag.select(graph, "p", "b") == ["p:a", "p:b"]
    assert dag.select(graph, None, "p:c") == ["p:a", "p:c"]
    assert dag.select(graph, "p", None) == ["p:a", "p:b", "p:c"]
    with pytest.raises(dag.PipelineError, match="no stage 'z'"):
        dag.select(graph, "p", "z")


def test_check_inputs_names_a_dep_nobody_makes() -> None:
    graph = dag.build([stage("a", deps=("in.csv",), outs=("a",))])
    dag.check_inputs(graph, ["p:a"], lambda path: path == "in.csv")
    with pytest.raises(dag.PipelineError, match=r"stage 'p:a' needs in\.csv"):
        dag.check_inputs(graph, ["p:a"], lambda path: False)


def test_check_params_suggests_a_close_key() -> None:
    st_ = dag.Stage("p", "a", cmd="x", params=("train.lr",))
    with pytest.raises(dag.PipelineError, match=r"did you mean 'train\.lrate'"):
        dag.check_params(st_, lambda k: k == "train.lrate", ["train", "train.lrate"])


def test_definition_lists_only_what_is_set() -> None:
    assert stage("a", outs=("o",)).definition() == {"cmd": "true", "outs": ["o"]}


def test_cache_key_changes_with_each_input() -> None:
    base = stage("a", deps=("d",), outs=("o",))
    key = cache.stage_key(base, {"d": "b3:" + "0" * 64}, {"x": 1})
    assert key == cache.stage_key(base, {"d": "b3:" + "0" * 64}, {"x": 1})
    assert key != cache.stage_key(base, {"d": "b3:" + "1" * 64}, {"x": 1})
    assert key != cache.stage_key(base, {"d": "b3:" + "0" * 64}, {"x": 2})
    other = dag.Stage("p", "a", cmd="false", deps=("d",), outs=("o",))
    assert key != cache.stage_key(other, {"d": "b3:" + "0" * 64}, {"x": 1})


def test_reasons_say_what_changed() -> None:
    st_ = dag.Stage("p", "a", cmd="new", deps=("d", "e"), params=("k",), outs=("o",))
    entry = Entry("b3:" + "0" * 64, cmd="old", deps={"d": "b3:" + "1" * 64}, params={"k": 1})
    reasons = cache.reasons(st_, entry, {"d": "b3:" + "2" * 64, "e": None}, {"k": 2})
    assert reasons == [
        "command changed",
        "dep d changed",
        "dep e added",
        "param k changed: 1 -> 2",
        "outputs changed in the stage definition",
    ]
    assert cache.reasons(st_, None, {}, {}) == ["never run"]


# -- properties over random DAGs ---------------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> dict[str, set[str]]:
    """A random DAG: node i may only need nodes before it, then names are shuffled."""
    n = draw(st.integers(min_value=0, max_value=25))
    names = draw(st.permutations([f"s{i}" for i in range(n)]))
    needs: dict[str, set[str]] = {}
    for i, name in enumerate(names):
        needs[name] = set(draw(st.sets(st.sampled_from(names[:i]))) if i else set())
    return needs


@settings(max_examples=200, deadline=None)
@given(dags())
def test_order_puts_every_stage_after_what_it_needs(needs: dict[str, set[str]]) -> None:
    found = dag.order(needs)
    assert sorted(found) == sorted(needs)
    position = {sid: i for i, sid in enumerate(found)}
    for sid, ups in needs.items():
        assert all(position[up] < position[sid] for up in ups)
    assert dag.find_cycle(needs) is None
    flat = [sid for level in dag.levels(needs) for sid in level]
    assert sorted(flat) == sorted(needs)


def ancestors(needs: dict[str, set[str]], sid: str) -> set[str]:
    seen: set[str] = set()
    todo = list(needs[sid])
    while todo:
        up = todo.pop()
        if up not in seen:
            seen.add(up)
            todo.extend(needs[up])
    return seen


@settings(max_examples=200, deadline=None)
@given(dags(), st.data())
def test_a_back_edge_makes_a_cycle_that_is_found(
    needs: dict[str, set[str]], data: st.DataObject
) -> None:
    pairs = sorted((up, sid) for sid in needs for up in ancestors(needs, sid))
    if not pairs:
        return
    # `sid` needs `up` through a path; making `up` need `sid` closes a cycle along it.
    up, sid = data.draw(st.sampled_from(pairs))
    cyclic = {k: set(v) for k, v in needs.items()}
    cyclic[up].add(sid)
    cycle = dag.find_cycle(cyclic)
    assert cycle is not None and len(cycle) >= 2
    for a, b in zip(cycle, cycle[1:] + cycle[:1], strict=True):
        assert a in cyclic[b]  # each stage in the cycle is needed by the next
    with pytest.raises(dag.PipelineError, match="cycle"):
        dag.order(cyclic)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.from_regex(r"[a-c]{1,2}(/[a-c]{1,2}){0,2}", fullmatch=True), max_size=12))
def test_overlapping_matches_the_plain_definition(paths: list[str]) -> None:
    known = {p: "x" for p in paths}
    ordered = sorted(known)
    for probe in [*paths, "a", "a/b", "c/c/c"]:
        expected = sorted(p for p in known if dag.overlaps(p, probe))
        assert sorted(dag.overlapping(ordered, known, probe)) == expected


def test_source_stages_read_no_other_stage_s_output() -> None:
    from monoloop.pipelines.service import source_stages

    pipelines = {
        "etl": {"stages": {
            "ingest": {"cmd": "x", "outs": ["data/raw.csv"]},
            "lookup": {"cmd": "x", "deps": ["ref/codes.csv"], "outs": ["data/codes.csv"]},
            "join": {"cmd": "x", "deps": ["data/raw.csv", "data/codes.csv"], "outs": ["j.csv"]},
        }},
        "train": {"stages": {"fit": {"cmd": "x", "deps": ["j.csv"], "outs": ["m.pkl"]}}},
    }  # fmt: skip
    assert source_stages(pipelines, "etl") == ["etl:ingest", "etl:lookup"]
    assert source_stages(pipelines, "train") == []  # fit reads what etl writes

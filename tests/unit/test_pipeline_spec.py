"""`pipelines:` in monoloop.yaml: what load_config accepts, and errors that name the key path."""

from __future__ import annotations

import pytest

from monoloop.config import parse_config
from monoloop.errors import ConfigError
from monoloop.pipelines import spec
from monoloop.pipelines.dag import stages_from_raw

HEAD = "version: 1\nproject: p\npipelines:\n  train:\n"

EXAMPLE = (
    HEAD
    + """\
    schedule: null
    stages:
      prepare:
        cmd: python src/prepare.py
        deps: [data/raw.csv, ./src//prepare.py]
        params: [prepare.split]
        outs: [data/prepared.parquet]
      fit:
        call: churn.train:fit
        deps: [data/prepared.parquet]
        outs: [models/model.skops]
        metrics: [metrics.json]
"""
)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    return info.value.message


def test_the_documented_example_loads_with_clean_paths() -> None:
    config = parse_config(EXAMPLE)
    train = config.pipelines["train"]
    assert train.schedule is None
    assert train.stages["prepare"].deps == ["data/raw.csv", "src/prepare.py"]
    assert train.stages["fit"].call == "churn.train:fit"
    stages = stages_from_raw({"train": train.model_dump()})["train"]
    assert [s.id for s in stages] == ["train:prepare", "train:fit"]
    assert stages[1].written == ("models/model.skops", "metrics.json")


def test_no_pipelines_is_fine() -> None:
    assert parse_config("version: 1\nproject: p\n").pipelines == {}


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        ("a: {cmd: x, call: 'm:f'}", "'pipelines.train.stages.a' (line 6): a stage needs exactly"),
        ("a: {deps: [x]}", "a stage needs exactly one of 'cmd'"),
        ("a: {call: 'not a function'}", "'pipelines.train.stages.a.call'"),
        ("a: {cmd: x, outs: [../up]}", "'pipelines.train.stages.a.outs' (line 6): '../up' climbs"),
        ("a: {cmd: x, outs: [/abs]}", "'/abs' is absolute"),
        ("a: {cmd: x, deps: [.git/config]}", "belongs to Git or monoloop"),
        ("a: {cmd: x, outs: [monoloop.lock]}", "monoloop.lock cannot be an output"),
        ("a: {cmd: x, outs: [x, ./x]}", "x is listed twice"),
        ("a: {cmd: x, metrics: [m.txt]}", "must end in .json, .yaml or .yml"),
        ("a: {cmd: x, params: ['a..b']}", "is not a dotted key"),
        ("a: {cmd: x, validate: [c]}", "validate"),
        ("a: {cmd: x, deps: [d.csv], validate: {input: {e.csv: c}}}", "not in deps"),
        ("a: {cmd: x, validate: {inputs: c}}", "inputs"),
        (
            "a: {cmd: x, outs: [m]}\n      b: {cmd: y, outs: [m/x.pkl]}",
            "'pipelines.train.stages' (line 5): m and m/x.pkl: stages 'a' and 'b' both write it",
        ),
        (
            "a: {cmd: x, deps: [b.txt], outs: [a.txt]}\n      b: {cmd: y, deps: [a.txt], "
            "outs: [b.txt]}",
            "pipeline stages form a cycle",
        ),
        ("'bad name': {cmd: x}", "stage name 'bad name' must be"),
    ],
)
def test_bad_stages_are_refused_with_the_key_path(stages: str, expected: str) -> None:
    message = error_of(HEAD + "    stages:\n      " + stages + "\n")
    assert expected in message


def test_unknown_stage_key_is_refused() -> None:
    assert "unknown key 'pipelines.train.stages.a.out'" in error_of(
        HEAD + "    stages:\n      a: {cmd: x, out: [x]}\n"
    )


def test_a_pipeline_needs_stages() -> None:
    assert "'pipelines.train.stages'" in error_of(HEAD + "    stages: {}\n")


@pytest.mark.parametrize(
    "cron", ["0 3 * * 1", "*/15 * * * *", "0 0 1,15 jan-jun mon-fri", "5 4 * * 7"]
)
def test_good_cron_schedules(cron: str) -> None:
    spec.check_cron(cron)


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 3 * *", "must have 5 fields"),
        ("0 25 * * *", "'25' is not a valid hour"),
        ("60 * * * *", "not a valid minute"),
        ("* * 0 * *", "not a valid day of month"),
        ("* * * foo *", "not a valid month"),
        ("*/0 * * * *", "step '0'"),
        ("@daily", "must have 5 fields"),
    ],
)
def test_bad_cron_schedules(cron: str, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        spec.check_cron(cron)
    message = error_of(HEAD + f"    schedule: '{cron}'\n    stages:\n      a: {{cmd: x}}\n")
    assert "'pipelines.train.schedule' (line 5)" in message


@pytest.mark.parametrize("path", ["", "  ", "a\\b", "~/x", "C:/x", ".", "./"])
def test_clean_path_refuses(path: str) -> None:
    with pytest.raises(ValueError):
        spec.clean_path(path)


def test_clean_path_normalises() -> None:
    assert spec.clean_path("./a//b/./c") == "a/b/c"


def test_resources_are_checked_and_kept_out_of_the_cache_key() -> None:
    text = HEAD + (
        "    stages:\n"
        "      fit:\n"
        "        cmd: python fit.py\n"
        "        outs: [model.bin]\n"
        "        resources: {cpus: 0.5, memory_mb: 512}\n"
    )
    train = parse_config(text).pipelines["train"]
    [stage] = stages_from_raw({"train": train.model_dump()})["train"]
    assert dict(stage.resources) == {"cpus": 0.5, "gpus": 0, "memory_mb": 512}
    assert "resources" not in stage.definition()
    plain = text.replace("        resources: {cpus: 0.5, memory_mb: 512}\n", "")
    [bare] = stages_from_raw({"train": parse_config(plain).pipelines["train"].model_dump()})[
        "train"
    ]
    assert bare.resources == () and bare.definition() == stage.definition()
    assert "'pipelines.train.stages.fit.resources.cpus'" in error_of(
        text.replace("cpus: 0.5", "cpus: 0")
    )
    assert "unknown key 'pipelines.train.stages.fit.resources.gpu'" in error_of(
        text.replace("memory_mb: 512", "gpu: 1")
    )
    assert "'pipelines.train.stages.fit.resources.memory_mb'" in error_of(text.replace("512", "-1"))

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monoloop.config import Config, Overrides, default_config_text, load_config, parse_config
from monoloop.errors import ConfigError


def test_default_text_is_a_valid_config() -> None:
    config = parse_config(default_config_text("churn"))
    assert config == Config(project="churn")


def test_empty_file_names_the_missing_key() -> None:
    with pytest.raises(ConfigError, match="'project' is required"):
        parse_config("")


def test_bad_yaml_names_line_and_column() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("version: 1\nproject: [unclosed\n")
    assert "line 3" in info.value.message or "line 2" in info.value.message
    assert "not valid YAML" in info.value.message
    assert info.value.hint


def test_unknown_key_is_an_error_with_a_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("version: 1\nproject: p\nstor:\n  url: x\n")
    message = info.value.message
    assert "unknown key 'stor'" in message
    assert "(line 3)" in message
    assert "did you mean 'store'" in message


def test_unknown_nested_key_lists_the_allowed_ones() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("version: 1\nproject: p\ndb:\n  uri: sqlite://\n")
    assert "unknown key 'db.uri'" in info.value.message
    assert "expected one of url" in info.value.message


def test_wrong_type_names_path_found_and_expected() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("version: 1\nproject: p\nstore:\n  url: 3\n")
    message = info.value.message
    assert "'store.url' (line 4): found 3 (int)" in message
    assert "string" in message


def test_wrong_version_is_refused() -> None:
    with pytest.raises(ConfigError, match="'version'"):
        parse_config("version: 2\nproject: p\n")


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="found a list"):
        parse_config("- a\n- b\n")


def test_missing_file_says_to_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "monoloop.yaml")
    assert "monoloop init" in (info.value.hint or "")


def test_env_overrides_are_read_and_blank_ignored() -> None:
    env = {"MONOLOOP_DB_URL": "sqlite:///x.db", "MONOLOOP_STORE_URL": "", "MONOLOOP_ACTOR": "a@b"}
    over = Overrides.from_env(env)
    assert (over.db_url, over.store_url, over.actor) == ("sqlite:///x.db", None, "a@b")


def test_env_override_with_spaces_is_an_error() -> None:
    with pytest.raises(ConfigError, match="MONOLOOP_DB_URL"):
        Overrides.from_env({"MONOLOOP_DB_URL": " sqlite:///x.db"})


@given(st.text(max_size=200))
def test_parser_never_raises_anything_but_config_error(text: str) -> None:
    try:
        parse_config(text)
    except ConfigError as error:
        assert error.message


def test_impossible_date_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config("version: 1\nproject: p\ndb:\n  url: 2020-13-45\n")


def test_execution_defaults_to_local_and_names_bad_executors() -> None:
    config = parse_config("version: 1\nproject: p\n")
    assert config.execution.executor == "local" and config.execution.ray.address is None
    ray = parse_config(
        "version: 1\nproject: p\nexecution:\n  executor: ray\n  ray: {address: auto}\n"
    )
    assert ray.execution.executor == "ray" and ray.execution.ray.address == "auto"
    with pytest.raises(ConfigError) as info:
        parse_config("version: 1\nproject: p\nexecution:\n  executor: dask\n")
    assert "'execution.executor' (line 4)" in info.value.message
    assert "'local' or 'ray'" in info.value.message
    with pytest.raises(ConfigError, match="did you mean 'num_cpus'"):
        parse_config("version: 1\nproject: p\nexecution:\n  ray: {num_cpu: 2}\n")

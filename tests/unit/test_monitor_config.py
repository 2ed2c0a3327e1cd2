"""`monitors:` and `policies:` in monoloop.yaml: a full example parses, and every mistake is
an error that names the key."""

from __future__ import annotations

import pytest

from monoloop.config import parse_config
from monoloop.errors import ConfigError
from monoloop.monitoring.report import DriftConfig
from monoloop.monitoring.spec import DriftSpec

BASE = """
version: 1
project: p
pipelines:
  train: {stages: {fit: {cmd: "true"}}}
deployments:
  churn-api: {model: churn@champion, canary: {model: churn@challenger, traffic: 0.1}}
monitors:
  churn-api:
    window: {hours: 24}
    decay: {metric: accuracy, min: 0.7}
policies:
  retrain:
    deployment: churn-api
    on: [drift, decay]
    retrain: {pipeline: train}
    canary: {requests: 100, minutes: 10}
"""


def test_a_full_configuration_parses() -> None:
    config = parse_config(BASE)
    monitor = config.monitors["churn-api"]
    assert monitor.window.hours == 24 and monitor.checks() == ["drift", "decay"]
    policy = config.policies["retrain"]
    assert policy.on == ["drift", "decay"] and policy.challenger_alias == "challenger"
    assert policy.canary is not None and policy.canary.checks(monitor) == (
        monitor.drift,
        monitor.decay,
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("window: {hours: 24}", "window: {}", "needs `last: N`"),
        ("metric: accuracy, min: 0.7", "metric: rmse, min: 0.7", "use `max`, not `min`"),
        ("metric: accuracy, min: 0.7", "metric: accuracy", "needs a threshold"),
        ("on: [drift, decay]", "on: [importance]", "has no importance check"),
        ("on: [drift, decay]", "on: [speed]", "'policies.retrain.on.0'"),
        ("pipeline: train", "pipeline: nope", "no pipeline 'nope'"),
        ("deployment: churn-api", "deployment: other", "no deployment 'other'"),
        ("monitors:\n  churn-api:", "monitors:\n  other:", "monitors.other: no deployment"),
        ("churn@challenger, traffic", "churn@shadow, traffic", "must serve churn@challenger"),
        ("canary: {requests: 100", "challenger_alias: champion\n    canary: {requests: 100",
         "needs an alias of its own"),
        ("canary: {requests: 100", "canary: {request: 100", "did you mean 'requests'"),
    ],
)  # fmt: skip
def test_configuration_errors_name_the_key(old: str, new: str, message: str) -> None:
    assert old in BASE
    with pytest.raises(ConfigError) as info:
        parse_config(BASE.replace(old, new))
    assert message in info.value.message


def test_alert_urls_are_checked() -> None:
    text = BASE.replace("decay: {metric", "alerts: {webhook: 'ftp://x'}\n    decay: {metric")
    with pytest.raises(ConfigError, match="must be an http"):
        parse_config(text)
    both = "alerts: {webhook: 'http://x', webhook_env: HOOK}\n    decay: {metric"
    with pytest.raises(ConfigError, match="not both"):
        parse_config(BASE.replace("decay: {metric", both))


def test_drift_spec_defaults_are_drift_configs() -> None:
    assert DriftSpec().to_config() == DriftConfig()
    assert DriftSpec(psi=None, share=0.3).to_config().psi is None


def test_yaml_on_key_is_read_as_on_not_true() -> None:
    assert parse_config(BASE).policies["retrain"].model_dump()["on"] == ["drift", "decay"]

"""ONNX export of a registered version: converted, checked against the model, stored and
recorded in the ledger once; `monoloop models export` writes it to a file."""

from __future__ import annotations

import json

import pytest
from tests.integration.registry_fixtures import train_model

from monoloop.audit.service import EventFilter, log
from monoloop.cli import main
from monoloop.registry import formats
from monoloop.registry.export import export_version
from monoloop.registry.loading import load_version
from monoloop.registry.service import register_model
from monoloop.registry.versions import get_version
from monoloop.workspace import Workspace


def register_churn(ws: Workspace) -> None:
    t = train_model(seed=0, rows=300)
    register_model(ws, "churn", t.model, sample_input=t.x_train.head(50))


def test_export_is_checked_stored_recorded_and_reused(ws: Workspace) -> None:
    register_churn(ws)
    first = export_version(ws, "churn:1")
    assert first.created and first.max_abs_diff is not None and first.max_abs_diff < 1e-5
    graph = formats.OnnxModel(ws.objects.get(first.object_id))
    assert [i.name for i in graph.inputs] == ["tenure", "calls", "region"]
    again = export_version(ws, "churn:1")
    assert not again.created and again.object_id == first.object_id
    (event,) = log(ws, EventFilter(kind="model.export"))
    assert event.subject == "churn:1" and event.payload["object_id"] == first.object_id
    onnx = load_version(ws, get_version(ws, "churn:1"), runtime="onnx")
    assert isinstance(onnx.model, formats.OnnxModel) and onnx.has_proba


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_models_export_command(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    register_churn(ws)
    root = str(ws.root)
    code = main.run(["-C", root, "models", "export", "churn:1", "-o", "m.onnx", "--json"])
    out = capsys.readouterr()
    assert code == 0, out.err
    exported = json.loads(out.out)
    data = (ws.root / "m.onnx").read_bytes()
    assert exported["format"] == "onnx" and exported["size"] == len(data)
    assert formats.detect(data) == "onnx"
    code = main.run(["-C", root, "models", "export", "churn:1", "--format", "pmml", "-o", "m"])
    assert code == 2 and "cannot export to 'pmml'" in capsys.readouterr().err
    code = main.run(["-C", root, "models", "export", "--help"])
    assert code == 0 and "Usage" in capsys.readouterr().out

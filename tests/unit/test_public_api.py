"""The SDK surface: every exported name resolves, and importing monoloop stays cheap."""

from __future__ import annotations

import subprocess
import sys

import monoloop


def test_every_exported_name_resolves() -> None:
    for name in monoloop.__all__:
        assert getattr(monoloop, name) is not None, name


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        monoloop.no_such_thing  # noqa: B018
    except AttributeError as error:
        assert "no_such_thing" in str(error)
    else:
        raise AssertionError("expected AttributeError")


def test_import_loads_no_heavy_dependency() -> None:
    code = (
        "import sys, monoloop, monoloop.data; "
        "print(','.join(m for m in ('sqlalchemy', 'pandas', 'pydantic', 'fsspec') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_data_api_lists_its_functions() -> None:
    import monoloop.data as data

    for name in data.__all__:
        assert callable(getattr(data, name)), name

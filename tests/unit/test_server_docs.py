"""Every route of the API is documented in docs/server.md with the scope it demands."""

from __future__ import annotations

from pathlib import Path

from monoloop.server.app import create_app
from monoloop.server.settings import ServerSettings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "server.md"


def test_every_route_is_in_the_docs_with_its_scope(tmp_path: Path) -> None:
    schema = create_app(ServerSettings(root=tmp_path)).openapi()  # no lifespan: no workspace
    text = DOCS.read_text()
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            security = op.get("security")
            scope = security[0]["HTTPBearer"][0] if security else "none"
            row = f"| {method.upper()} | {path} | {scope} |"
            assert row in text, f"docs/server.md lacks the row {row}"

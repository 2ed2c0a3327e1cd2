"""docs/getting-started.md runs: every shell block, in order, in a fresh directory."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


def shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M)


@pytest.mark.slow
def test_getting_started_guide_runs(tmp_path: Path) -> None:
    blocks = shell_blocks((DOCS / "getting-started.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    script = "set -euo pipefail\n" + "\n".join(blocks)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
    }
    for key in ("MONOLOOP_DB_URL", "MONOLOOP_STORE_URL", "MONOLOOP_ACTOR", "MONOLOOP_PII_KEY"):
        env.pop(key, None)
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    repo = tmp_path / "churn"
    assert (repo / ".github" / "workflows" / "monoloop.yml").is_file()
    assert (repo / "reports" / "churn-card.md").read_text().startswith("# Model card: churn")
    from monoloop.audit.service import verify
    from monoloop.registry.versions import get_version
    from monoloop.workspace import open_workspace

    with open_workspace(repo, env={}) as ws:
        assert get_version(ws, "churn@champion").version == 1
        assert verify(ws).ok


def test_links_between_docs_resolve() -> None:
    root = DOCS.parent
    broken = []
    for page in [root / "README.md", *sorted(DOCS.glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(root)} -> {target}")
    assert not broken, "broken links: " + ", ".join(broken)


def test_configuration_reference_names_every_top_level_key() -> None:
    from monoloop.config import Config

    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [k for k in Config.model_fields if f"| `{k}" not in text]
    assert not missing, f"docs/configuration.md lacks rows for {missing}"

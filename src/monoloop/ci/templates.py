"""`monoloop ci init`: a CI pipeline that runs the loop's checks on every merge request
and promotes on the default branch.

    merge request:  validate (data contracts) -> run (pipeline) -> check (gates vs champion)
                    publishing the JUnit reports and the Markdown gate report
    default branch: the same, then promote the latest version to the alias

Every command the templates call is a real `monoloop` command; a test parses the YAML and
resolves each one against the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from monoloop.errors import Conflict, InvalidInput
from monoloop.fsutil import atomic_write_text

if TYPE_CHECKING:
    from monoloop.workspace import Workspace

GITLAB_PATH = ".gitlab-ci.yml"
GITHUB_PATH = ".github/workflows/monoloop.yml"


@dataclass(frozen=True)
class CiOptions:
    model: str
    pipeline: str | None = None
    alias: str = "champion"
    python: str = "3.11"
    data: tuple[str, ...] = ()
    pull: bool = False

    def commands(self) -> tuple[list[str], list[str]]:
        """(checks run on every merge request, promotion on the default branch)."""
        checks = [
            "monoloop validate " + path + f" --junit reports/data-{i}.xml"
            for i, path in enumerate(self.data)
        ]
        checks += ["monoloop data pull"] if self.pull else []
        checks += [
            "monoloop run" + (f" {self.pipeline}" if self.pipeline else ""),
            f"monoloop check {self.model} latest --against {self.alias} "
            "--junit reports/model.xml --report-md reports/model.md",
        ]
        promote = [f"monoloop models promote {self.model} latest --to {self.alias}"]
        return checks, promote


def gitlab(opts: CiOptions) -> str:
    checks, promote = opts.commands()
    install = "pip install monoloop"
    lines = [
        "# Written by `monoloop ci init --gitlab`. The loop's checks on every merge request,",
        "# promotion on the default branch. Docs: docs/ci.md",
        f"image: python:{opts.python}",
        "",
        "stages: [check, promote]",
        "",
        "variables:",
        '  MONOLOOP_DB_URL: "$MONOLOOP_DB_URL"     # a shared PostgreSQL, set in CI settings',
        '  MONOLOOP_STORE_URL: "$MONOLOOP_STORE_URL"',
        "",
        "monoloop-check:",
        "  stage: check",
        "  rules:",
        '    - if: $CI_PIPELINE_SOURCE == "merge_request_event"',
        "    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
        "  script:",
        f"    - {install}",
        *[f"    - {_quote(c)}" for c in checks],
        "  artifacts:",
        "    when: always",
        "    paths: [reports/]",
        "    reports:",
        "      junit: reports/*.xml",
        "",
        "monoloop-promote:",
        "  stage: promote",
        "  rules:",
        "    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH",
        "  script:",
        f"    - {install}",
        *[f"    - {_quote(c)}" for c in checks[-2:]],
        *[f"    - {_quote(c)}" for c in promote],
        "",
    ]
    return "\n".join(lines)


def github(opts: CiOptions) -> str:
    checks, promote = opts.commands()
    steps = [
        "      - uses: actions/checkout@v4",
        "      - uses: actions/setup-python@v5",
        "        with:",
        f'          python-version: "{opts.python}"',
        "      - run: pip install monoloop",
    ]
    check_steps = [f"      - run: {_quote(c)}" for c in checks]
    lines = [
        "# Written by `monoloop ci init --github`. The loop's checks on every pull request,",
        "# promotion on the default branch. Docs: docs/ci.md",
        "name: monoloop",
        "on:",
        "  pull_request:",
        "  push:",
        "    branches: [main]",
        "env:",
        "  MONOLOOP_DB_URL: ${{ secrets.MONOLOOP_DB_URL }}",
        "  MONOLOOP_STORE_URL: ${{ secrets.MONOLOOP_STORE_URL }}",
        "jobs:",
        "  check:",
        "    runs-on: ubuntu-latest",
        "    permissions:",
        "      contents: read",
        "      pull-requests: write",
        "    steps:",
        *steps,
        *check_steps,
        "      - name: Post the gate report on the pull request",
        "        if: always() && github.event_name == 'pull_request'",
        "        run: gh pr comment ${{ github.event.number }} --body-file reports/model.md",
        "        env:",
        "          GH_TOKEN: ${{ github.token }}",
        "      - uses: actions/upload-artifact@v4",
        "        if: always()",
        "        with:",
        "          name: monoloop-reports",
        "          path: reports/",
        "  promote:",
        "    needs: check",
        "    if: github.event_name == 'push' && github.ref == 'refs/heads/main'",
        "    runs-on: ubuntu-latest",
        "    steps:",
        *steps,
        *[f"      - run: {_quote(c)}" for c in checks[-2:]],
        *[f"      - run: {_quote(c)}" for c in promote],
        "",
    ]
    return "\n".join(lines)


def _quote(command: str) -> str:
    """A YAML plain scalar cannot hold ': ' or start with some characters: quote those."""
    if any(s in command for s in (": ", " #", "'", '"')) or command[0] in "!&*{}[]|>%@`":
        return "'" + command.replace("'", "''") + "'"
    return command


def write(root: Path, *, kind: str, opts: CiOptions, force: bool = False) -> Path:
    if kind not in ("gitlab", "github"):
        raise InvalidInput(f"unknown CI system {kind!r}", hint="use --gitlab or --github")
    path = root / (GITLAB_PATH if kind == "gitlab" else GITHUB_PATH)
    if path.exists() and not force:
        raise Conflict(f"{path.relative_to(root)} exists", hint="pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, gitlab(opts) if kind == "gitlab" else github(opts))
    return path


def choose(*, gitlab: bool, github: bool) -> str:
    if gitlab == github:
        raise InvalidInput(
            "say which CI system: --gitlab or --github (one of them)",
            hint="e.g. monoloop ci init --github",
        )
    return "gitlab" if gitlab else "github"


def options_for(ws: Workspace, *, model: str | None, alias: str, data: list[str]) -> CiOptions:
    """Options from the workspace: its model, its one pipeline, whether it has a remote."""
    from monoloop.registry.model import check_name

    if model is None:
        declared = sorted(ws.config.models)
        if len(declared) != 1:
            raise InvalidInput(
                "which model should CI check? "
                + (
                    f"monoloop.yaml declares {', '.join(declared)}"
                    if declared
                    else "monoloop.yaml declares none under models:"
                ),
                hint="pass --model NAME",
            )
        model = declared[0]
    pipelines = sorted(ws.config.pipelines)
    return CiOptions(
        model=check_name(model),
        pipeline=pipelines[0] if len(pipelines) == 1 else None,
        alias=check_name(alias, "alias"),
        data=tuple(data),
        pull=ws.config.default_remote is not None,
    )

"""The validation capability's Python API; the CLI, the server and pipeline stages call these.

    report = check(ws, "data/customers.csv", "customers")   # -> ValidationReport
    report.raise_for_errors()                                # a pipeline stage's gate

`ws` may be None for a check outside any workspace (the contract is then a file
path); with a workspace, checks and fixes are recorded in the audit ledger, with
rule names and counts only, never values.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeAlias

import pandas as pd  # type: ignore[import-untyped]

from monoloop import gitutil
from monoloop.errors import Conflict, InvalidInput, NotFound, WorkspaceError
from monoloop.fsutil import atomic_write_bytes, atomic_write_text
from monoloop.validation.contract import Contract, ContractError
from monoloop.validation.contract_files import key_line, read_contract
from monoloop.validation.inference import infer_contract
from monoloop.validation.policy import pii_rules, policy_columns
from monoloop.validation.pseudonymize import PiiKey, pseudonymize_file, pseudonymize_series
from monoloop.validation.readers import DataReadError, format_of, read_bytes, read_path, to_bytes
from monoloop.validation.results import PiiScan, ValidationReport
from monoloop.validation.rules import check_columns_exist, evaluate
from monoloop.validation.scan import scan_frame

if TYPE_CHECKING:
    from monoloop.workspace import Workspace

CONTRACTS_DIR = "contracts"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
Data: TypeAlias = "str | Path | pd.DataFrame"


@dataclass(frozen=True)
class ContractRef:
    """A contract with the name reports use and the file (or config key) it came from."""

    name: str
    source: str
    contract: Contract
    text: str | None = None  # the YAML, to point errors at lines


@dataclass(frozen=True)
class InferResult:
    contract: Contract
    text: str
    path: Path | None
    pii: PiiScan

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path) if self.path else None, "pii": self.pii.to_dict()}


@dataclass(frozen=True)
class FixResult:
    data: str
    output: str
    columns: list[str]
    cells: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "output": self.output,
            "columns": self.columns,
            "cells": self.cells,
        }


def load_contract(
    ws: Workspace | None, ref: str | Path | Contract | ContractRef, *, cwd: Path | None = None
) -> ContractRef:
    """A contract by name (contracts/NAME.yaml, then monoloop.yaml `contracts:`) or by path."""
    if isinstance(ref, ContractRef):
        return ref
    if isinstance(ref, Contract):
        return ContractRef("inline", "inline contract", ref)
    text = str(ref)
    if isinstance(ref, Path) or text.endswith((".yaml", ".yml")) or "/" in text:
        path = _resolve(Path(text), cwd)
        label = _label(path, ws, cwd)
        return ContractRef(_stem(path.name), label, *read_contract(path, label=label))
    if not _NAME.match(text):
        raise InvalidInput(
            f"{text!r} is not a contract name",
            hint="use letters, digits, '.', '_' and '-', or give a path to a .yaml file",
        )
    if ws is None:
        raise ContractError(
            f"contract {text!r}: not in a workspace, so there is no contracts/ directory",
            hint=f"give the contract's path, e.g. --contract contracts/{text}.yaml",
        )
    for ext in (".yaml", ".yml"):
        path = ws.root / CONTRACTS_DIR / f"{text}{ext}"
        if path.is_file():
            label = f"{CONTRACTS_DIR}/{text}{ext}"
            return ContractRef(text, label, *read_contract(path, label=label))
    inline = _inline_contracts(ws)
    if text in inline:
        return ContractRef(text, f"monoloop.yaml: contracts.{text}", inline[text])
    known = sorted({p.stem for p in (ws.root / CONTRACTS_DIR).glob("*.y*ml")} | set(inline))
    raise NotFound(
        f"no contract named {text!r} (looked for {CONTRACTS_DIR}/{text}.yaml and "
        "`contracts:` in monoloop.yaml)",
        hint=(f"known contracts: {', '.join(known)}; " if known else "")
        + f"create one with `monoloop validate infer DATA -o {CONTRACTS_DIR}/{text}.yaml`",
    )


def check(
    ws: Workspace | None,
    data: Data,
    contract: str | Path | Contract | ContractRef | None = None,
    *,
    rev: str | None = None,
    pii: bool = True,
    now: dt.datetime | None = None,
    cwd: Path | None = None,
    record: bool = True,
) -> ValidationReport:
    """Check a table against its contract (by default the one named like the data file).

    `pii=False` skips the PII scan and the contract's PII policy rules.
    """
    ref = load_contract(ws, contract if contract is not None else _default_name(data), cwd=cwd)
    strings = [n for n, c in ref.contract.columns.items() if c.column_type == "string"]
    frame, label = load_data(ws, data, rev=rev, cwd=cwd, string_columns=strings)
    check_columns_exist(frame, ref.contract, source=_with_line(ref, frame), data=label)
    policies = policy_columns(ref.contract)
    scan = None
    if pii and (ref.contract.pii.scan or policies):
        forced = [c for c, p in policies.items() if p == "forbid"]
        # `pii: {scan: false}` still looks at the columns whose policy needs it.
        only = None if ref.contract.pii.scan else list(policies)
        scan = scan_frame(frame, only, force=forced)
    sensitive = set(policies) | (scan.sensitive_columns if scan else set())
    rules = evaluate(frame, ref.contract, sensitive=sensitive, now=now)
    if pii:
        rules += pii_rules(ref.contract, frame, scan)
    report = ValidationReport(label, ref.name, len(frame), len(frame.columns), rules, scan, rev)
    if ws is not None and record:
        _record(ws, "validation.check", label, _check_payload(report, ref))
    return report


def scan_pii(
    ws: Workspace | None,
    data: Data,
    *,
    rev: str | None = None,
    columns: Collection[str] | None = None,
    cwd: Path | None = None,
) -> PiiScan:
    """Scan the text columns of a table (or the named columns) for PII."""
    frame, label = load_data(ws, data, rev=rev, cwd=cwd)
    missing = [c for c in columns or () if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{label} has no column {', '.join(map(repr, missing))}")
    return scan_frame(frame, columns, force=columns or ())


def infer(
    ws: Workspace | None,
    data: Data,
    *,
    output: Path | None = None,
    rev: str | None = None,
    force: bool = False,
    cwd: Path | None = None,
) -> InferResult:
    """Infer a starting contract from a table; write it to `output` when given."""
    frame, label = load_data(ws, data, rev=rev, cwd=cwd, all_text=True)
    inferred = infer_contract(frame, source=label)
    target = None
    if output is not None:
        target = _resolve(output, cwd)
        if target.exists() and not force:
            raise Conflict(f"{target} already exists", hint="pass --force to replace it")
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, inferred.text)
    return InferResult(inferred.contract, inferred.text, target, inferred.pii)


def fix(
    ws: Workspace | None,
    data: Data,
    contract: str | Path | Contract | ContractRef | None = None,
    *,
    output: Path,
    columns: Collection[str] | None = None,
    key: PiiKey | None = None,
    rev: str | None = None,
    force: bool = False,
    cwd: Path | None = None,
) -> FixResult:
    """Pseudonymize the contract's `pii: pseudonymize` columns (or `columns`) into `output`."""
    key = key or PiiKey.from_env()  # first: no key, no work
    if columns:
        targets = list(columns)
    else:
        ref = load_contract(ws, contract if contract is not None else _default_name(data), cwd=cwd)
        targets = [c for c, p in policy_columns(ref.contract).items() if p == "pseudonymize"]
        if not targets:
            raise InvalidInput(
                f"contract {ref.source} has no column with `pii: pseudonymize`",
                hint="set `pii: pseudonymize` on the columns to replace, or pass --column",
            )
    target = _resolve(output, cwd)
    format_of(target.name)  # refuse an unknown output format before any work
    if target.exists() and not force:
        raise Conflict(f"{target} already exists", hint="pass --force to replace it")
    if isinstance(data, pd.DataFrame):
        frame = data
        missing = [c for c in targets if c not in frame.columns]
        if missing:
            raise InvalidInput(f"the DataFrame has no column {', '.join(map(repr, missing))}")
        replaced = {c: pseudonymize_series(frame[c], key) for c in targets}
        cells = sum(int(frame[c].notna().sum()) for c in targets)
        body, label = to_bytes(frame.assign(**replaced), target.name), "<DataFrame>"
    else:
        raw, label = _raw_bytes(ws, data, rev=rev, cwd=cwd)
        body, cells = pseudonymize_file(
            raw, name=label, out_name=target.name, columns=targets, key=key
        )
    atomic_write_bytes(target, body)
    result = FixResult(label, _label(target, ws, cwd), targets, cells)
    if ws is not None:
        _record(ws, "validation.fix", label, result.to_dict())
    return result


def _raw_bytes(
    ws: Workspace | None, data: str | Path, *, rev: str | None, cwd: Path | None
) -> tuple[bytes, str]:
    path = _resolve(Path(data), cwd)
    label = _label(path, ws, cwd)
    if rev is None:
        try:
            return path.read_bytes(), label
        except FileNotFoundError:
            raise NotFound(f"{label} does not exist", hint="check the path") from None
        except OSError as exc:
            raise DataReadError(f"cannot read {label}: {exc.strerror or exc}") from None
    with _open_at(ws, path, rev, cwd) as f:
        return f.read(), label


def load_data(
    ws: Workspace | None,
    data: Data,
    *,
    rev: str | None = None,
    cwd: Path | None = None,
    string_columns: Collection[str] = (),
    all_text: bool = False,
) -> tuple[pd.DataFrame, str]:
    """A table and the label reports use for it: a path in the working tree, or at `rev`."""
    if isinstance(data, pd.DataFrame):
        if rev is not None:
            raise InvalidInput("rev applies to a file path, not to a DataFrame")
        frame = data if isinstance(data.index, pd.RangeIndex) else data.reset_index(drop=True)
        return frame, "<DataFrame>"
    if rev is None:
        path = _resolve(Path(data), cwd)
        frame = read_path(path, string_columns=string_columns, all_text=all_text)
        return frame, _label(path, ws, cwd)
    raw, label = _raw_bytes(ws, data, rev=rev, cwd=cwd)
    frame = read_bytes(raw, name=label, string_columns=string_columns, all_text=all_text)
    return frame, f"{label}@{rev}"


def _open_at(ws: Workspace | None, path: Path, rev: str, cwd: Path | None) -> BinaryIO:
    """The bytes of a data file as of a Git revision.

    Tracked data (`PATH.loop` pointers) is read from the object store; a file committed
    to Git itself is read with `git show`, in or out of a workspace.
    """
    if rev.startswith("-") or not rev.strip():
        raise InvalidInput(f"{rev!r} is not a revision", hint="give a commit, branch or tag")
    if ws is not None:
        from monoloop.data import open_at

        try:
            return open_at(ws, path, rev)
        except NotFound as not_tracked:
            try:
                return _git_show(ws.root, path, rev)
            except NotFound:
                raise not_tracked from None
    root = ws.root if ws is not None else gitutil.toplevel(cwd or Path.cwd())
    if root is None:
        raise WorkspaceError(f"--rev needs a Git repository; {cwd or Path.cwd()} is not in one")
    return _git_show(root, path, rev)


def _git_show(root: Path, path: Path, rev: str) -> BinaryIO:
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise InvalidInput(f"{path} is outside the repository {root}") from None
    proc = gitutil.git(["show", f"{rev}:{rel}"], root, check=False)
    if proc.returncode != 0:
        problem = proc.stderr.decode(errors="replace").strip().splitlines()
        raise NotFound(
            f"cannot read {rel} at {rev}: {problem[-1] if problem else 'git show failed'}",
            hint="check the revision (git log) and that the file was committed at it",
        )
    return io.BytesIO(proc.stdout)


def _inline_contracts(ws: Workspace) -> dict[str, Contract]:
    return dict(ws.config.contracts)


def _default_name(data: Data) -> str:
    if isinstance(data, pd.DataFrame):
        raise InvalidInput("a DataFrame has no name to find its contract by; pass the contract")
    return _stem(Path(data).name)


def _stem(name: str) -> str:
    base = name[:-3] if name.lower().endswith(".gz") else name
    return base.rsplit(".", 1)[0] if "." in base else base


def _resolve(path: Path, cwd: Path | None) -> Path:
    return path if path.is_absolute() else (cwd or Path.cwd()) / path


def _label(path: Path, ws: Workspace | None, cwd: Path | None = None) -> str:
    """How reports name a file: relative to the workspace root, else to the current directory."""
    for base in (ws.root if ws is not None else None, cwd or Path.cwd()):
        if base is not None:
            try:
                return path.resolve().relative_to(base.resolve()).as_posix()
            except ValueError:
                pass
    return str(path)


def _with_line(ref: ContractRef, frame: pd.DataFrame) -> str:
    """The contract's name for an error, with the line of the first key naming a lost column."""
    if ref.text is None:
        return ref.source
    present = set(map(str, frame.columns))
    for path, column in ref.contract.referenced_columns().items():
        if column not in present:
            line = key_line(ref.text, path)
            if line:
                return f"{ref.source} (line {line})"
    return ref.source


def _check_payload(report: ValidationReport, ref: ContractRef) -> dict[str, Any]:
    return {
        "contract": ref.name,
        "contract_source": ref.source,
        "rev": report.rev,
        "ok": report.ok,
        "rows": report.rows,
        "failed": [
            {"rule": r.rule, "severity": r.severity, "failing": r.failing}
            for r in report.rules
            if r.failed
        ],
        "pii": sorted(
            {f"{f.column}:{f.kind}" for f in (report.pii.findings if report.pii else [])}
        ),
    }


def _record(ws: Workspace, kind: str, subject: str, payload: dict[str, Any]) -> None:
    with ws.db.write() as conn:
        ws.record(conn, kind, subject, payload)

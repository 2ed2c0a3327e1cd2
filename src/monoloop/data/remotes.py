"""Data remotes in monoloop.yaml: list, add, remove, and choose the default.

monoloop.yaml is committed and commented, so it is edited in place rather than re-dumped:
only the top-level `remotes:` block and the `default_remote:` line are rewritten, every
other line (comments included) stays byte for byte. The new text must pass full
validation and parse back to exactly the intended values with everything else unchanged,
or nothing is written; a good edit is written atomically and re-stamped as valid, so the
next data command does not pay for validating it again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from monoloop.errors import ConfigError, InvalidInput, NotFound
from monoloop.root import CONFIG_FILE

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class RemoteInfo:
    name: str
    url: str  # credentials, if any, hidden
    default: bool
    options: list[str] = field(default_factory=list)  # option names only: values may be secret

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "default": self.default,
            "options": self.options,
        }


def list_remotes(root: Path) -> list[RemoteInfo]:
    from monoloop.store.objects import redact

    config = _load(root)
    found = []
    for name in sorted(config.remotes):
        spec = config.remote(name)
        found.append(
            RemoteInfo(name, redact(spec.url), name == config.default_remote, sorted(spec.options))
        )
    return found


def add_remote(
    root: Path, name: str, url: str, *, default: bool = False, force: bool = False
) -> RemoteInfo:
    """Add (or with force, replace) remote `name`; a plain path becomes a file:// URL."""
    from monoloop.store.objects import open_store, redact

    if not NAME.match(name):
        raise InvalidInput(
            f"remote name {name!r} must be letters, digits, '.', '_' or '-'",
            hint="pick a name like origin, nas or s3-backup",
        )
    url = _normalised(url)
    open_store(url, default_root=root)  # an unknown scheme or a missing package, said now
    values = _values(root)
    remotes = dict(values.get("remotes") or {})
    if name in remotes and not force:
        raise InvalidInput(
            f"remote {name!r} already exists ({_url_of(remotes[name])})",
            hint="pass --force to replace it, or choose another name",
        )
    old = remotes.get(name)
    # Replacing a remote keeps its options (endpoint, region): only the URL changes.
    remotes[name] = {**old, "url": url} if isinstance(old, dict) else url
    chosen = name if default else values.get("default_remote")
    _write(root, remotes, chosen)
    return RemoteInfo(name, redact(url), chosen == name)


def remove_remote(root: Path, name: str) -> bool:
    """Remove remote `name`; True if it was the default (which is then unset)."""
    values = _values(root)
    remotes = dict(values.get("remotes") or {})
    if name not in remotes:
        raise NotFound(
            f"no remote named {name!r} (configured: {', '.join(sorted(remotes)) or 'none'})",
            hint="`monoloop data remote list` shows them",
        )
    del remotes[name]
    was_default = values.get("default_remote") == name
    _write(root, remotes, None if was_default else values.get("default_remote"))
    return was_default


def set_default(root: Path, name: str | None) -> None:
    """Make `name` the remote push and pull use when none is named (None: no default)."""
    values = _values(root)
    remotes = dict(values.get("remotes") or {})
    if name is not None and name not in remotes:
        raise NotFound(
            f"no remote named {name!r} (configured: {', '.join(sorted(remotes)) or 'none'})",
            hint="add it first with `monoloop data remote add NAME URL`",
        )
    _write(root, remotes, name)


# -- the edit ---------------------------------------------------------------------------


def _normalised(url: str) -> str:
    url = url.strip()
    if not url:
        raise InvalidInput("the remote URL is empty", hint="pass a directory, file:// or s3:// URL")
    if "://" not in url:
        return Path(url).expanduser().resolve().as_uri()
    parts = urlsplit(url)
    if parts.password:
        raise InvalidInput(
            "the remote URL contains a password, and monoloop.yaml is committed to Git",
            hint="give credentials through the environment (e.g. AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY for s3://) and add the URL without them",
        )
    return url


def _url_of(spec: Any) -> str:
    from monoloop.store.objects import redact

    return redact(spec["url"] if isinstance(spec, dict) else str(spec))


def _load(root: Path) -> Any:
    from monoloop.config import load_config

    return load_config(root / CONFIG_FILE)


def _values(root: Path) -> dict[str, Any]:
    import yaml

    _load(root)  # a broken monoloop.yaml is reported as such before any edit
    loaded = yaml.safe_load((root / CONFIG_FILE).read_text(encoding="utf-8")) or {}
    return dict(loaded)


def _write(root: Path, remotes: dict[str, Any], default: str | None) -> None:
    import yaml

    from monoloop.config import parse_config, stamp_valid_config
    from monoloop.fsutil import atomic_write_text

    path = root / CONFIG_FILE
    text = path.read_text(encoding="utf-8")
    if remotes:
        block = yaml.safe_dump({"remotes": remotes}, default_flow_style=False, sort_keys=False)
    else:
        block = "remotes: {}\n"
    new = _replace_block(text, "remotes", block)
    new = _replace_block(new, "default_remote", yaml.safe_dump({"default_remote": default}))
    config = parse_config(new, source=str(path))
    before = dict(yaml.safe_load(text) or {})
    after = dict(yaml.safe_load(new) or {})
    for key in ("remotes", "default_remote"):
        before.pop(key, None)
    if (
        after.pop("remotes", None) != remotes
        or after.pop("default_remote", None) != default
        or after != before
    ):
        raise ConfigError(
            f"cannot edit the remotes in {path} safely (an unusual layout of that file)",
            hint="edit `remotes:` and `default_remote:` in monoloop.yaml by hand",
        )
    atomic_write_text(path, new)
    stamp_valid_config(root, config)


def _replace_block(text: str, key: str, block: str) -> str:
    """`text` with the top-level `key:` entry (its line and the indented lines under it)
    replaced by `block`, or `block` appended when the key is absent."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"{key}\s*:", line)), None)
    if start is None:
        return text + ("" if not text or text.endswith("\n") else "\n") + block
    end = start + 1
    for j in range(start + 1, len(lines)):
        line = lines[j]
        if line[:1] in (" ", "\t"):
            end = j + 1
        elif line.strip():
            break  # the next top-level key or a comment about it
    return "".join(lines[:start]) + block + "".join(lines[end:])

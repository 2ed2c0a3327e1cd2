"""monoloop.lock: what each stage's last successful run read and wrote, for Git.

    # monoloop.lock: written by `monoloop run`. Commit it; do not edit it by hand.
    version: 1
    pipelines:
      train:
        fit:
          call: churn.train:fit
          deps:
            data/prepared.parquet: b3:...
          key: b3:...
          metrics:
            metrics.json:
              auc: 0.91
          outs:
            metrics.json: b3:...
            models/: b3:...          (a directory: the id of its manifest)

Keys are sorted and nothing time- or machine-dependent is written, so two people who run
the same stage on the same inputs write the same bytes, and diffs show only real changes.
Written atomically; read through the JSON cache (`yamlcache`) on the fast path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monoloop.errors import ConfigError
from monoloop.hashing import hash_bytes, is_id
from monoloop.pipelines import yamlcache

LOCK_FILE = "monoloop.lock"
FORMAT = 1
HEADER = "# monoloop.lock: written by `monoloop run`. Commit it; do not edit it by hand.\n"


@dataclass
class Entry:
    key: str
    cmd: str | None = None
    call: str | None = None
    deps: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    outs: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    def out_ids(self) -> dict[str, tuple[str, bool]]:
        """path -> (id, is a directory); the lock writes directories with a trailing '/'."""
        return {p.rstrip("/"): (cid, p.endswith("/")) for p, cid in self.outs.items()}

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"key": self.key}
        if self.cmd is not None:
            found["cmd"] = self.cmd
        if self.call is not None:
            found["call"] = self.call
        for name in ("deps", "params", "outs", "metrics"):
            value = getattr(self, name)
            if value:
                found[name] = dict(sorted(value.items()))
        return found

    @classmethod
    def from_dict(cls, raw: Any, where: str) -> Entry:
        if not isinstance(raw, dict) or not is_id(raw.get("key")):
            raise _broken(f"{where} has no valid 'key'")
        maps = {}
        for name in ("deps", "params", "outs", "metrics"):
            value = raw.get(name) or {}
            if not isinstance(value, dict):
                raise _broken(f"{where}.{name} is not a mapping")
            maps[name] = {str(k): v for k, v in value.items()}
        for name in ("deps", "outs"):
            for path, cid in maps[name].items():
                if not is_id(cid):
                    raise _broken(f"{where}.{name}.{path} is not a content id")
        cmd, call = raw.get("cmd"), raw.get("call")
        return cls(
            raw["key"],
            cmd if isinstance(cmd, str) else None,
            call if isinstance(call, str) else None,
            maps["deps"],
            maps["params"],
            maps["outs"],
            maps["metrics"],
        )


def _broken(problem: str) -> ConfigError:
    return ConfigError(
        f"{LOCK_FILE} is damaged: {problem}",
        hint=f"restore it with `git checkout -- {LOCK_FILE}`, or delete it to run every "
        "stage again",
    )


@dataclass
class Lock:
    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    digest: str | None = None  # hash of the file's bytes as read or last written

    def get(self, pipeline: str, stage: str) -> Entry | None:
        return self.entries.get((pipeline, stage))

    def to_doc(self, keep: set[tuple[str, str]] | None = None) -> dict[str, Any]:
        """The YAML document; entries of stages not in `keep` (removed ones) are dropped."""
        pipelines: dict[str, dict[str, Any]] = {}
        for (pipeline, stage), entry in sorted(self.entries.items()):
            if keep is None or (pipeline, stage) in keep:
                pipelines.setdefault(pipeline, {})[stage] = entry.to_dict()
        return {"version": FORMAT, "pipelines": pipelines}


def read(root: Path, state_dir: Path) -> Lock:
    try:
        doc, digest = yamlcache.load(root / LOCK_FILE, state_dir, "lock")
    except Exception as exc:  # yaml.YAMLError; yaml is imported only on the slow path
        raise _broken(f"not valid YAML ({str(exc).splitlines()[0]})") from None
    if digest is None or doc is None:
        return Lock()
    if not isinstance(doc, dict) or doc.get("version") != FORMAT:
        raise _broken(f"expected `version: {FORMAT}` and `pipelines:` at the top")
    lock = Lock(digest=digest)
    pipelines = doc.get("pipelines") or {}
    if not isinstance(pipelines, dict):
        raise _broken("'pipelines' is not a mapping")
    for pipeline, stages in pipelines.items():
        if not isinstance(stages, dict):
            raise _broken(f"pipelines.{pipeline} is not a mapping")
        for stage, raw in stages.items():
            lock.entries[(str(pipeline), str(stage))] = Entry.from_dict(
                raw, f"pipelines.{pipeline}.{stage}"
            )
    return lock


def render(doc: dict[str, Any]) -> str:
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    # `version` first, where a reader looks for it; everything below it sorted.
    head = yaml.dump({"version": doc["version"]}, Dumper=dumper)
    body = yaml.dump(
        {k: v for k, v in doc.items() if k != "version"},
        Dumper=dumper,
        sort_keys=True,
        default_flow_style=False,
        allow_unicode=True,
        width=4096,
    )
    return HEADER + head + body


def write(root: Path, state_dir: Path, lock: Lock, doc: dict[str, Any]) -> bool:
    """Write the lock file if its text changes; True when it did. Updates `lock.digest`."""
    from monoloop.fsutil import atomic_write_text

    text = render(doc)
    path = root / LOCK_FILE
    lock.digest = hash_bytes(text.encode("utf-8"))
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    atomic_write_text(path, text)
    yamlcache.remember(state_dir, "lock", lock.digest, doc)
    return True

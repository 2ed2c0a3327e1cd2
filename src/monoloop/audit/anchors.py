"""Anchors of the audit chain in Git: annotated tags that point at a small JSON blob.

A tag needs no commit (it points at a blob), so a brand-new repository can be
anchored, and `git push --tags` carries the anchors to wherever the code lives.
"""

from __future__ import annotations

import json
from pathlib import Path

from monoloop.errors import Conflict
from monoloop.gitutil import config_get, git
from monoloop.ledger import Anchor

ANCHOR_FORMAT = "monoloop.anchor/1"


def tag_prefix(prefix: str, project: str) -> str:
    return f"{prefix}/{project}"


def tag_name(prefix: str, project: str, seq: int) -> str:
    # Zero-padded so tags list in seq order.
    return f"{tag_prefix(prefix, project)}/{seq:012d}"


def write_anchor(
    repo: Path, *, prefix: str, project: str, seq: int, hash: str, time: str, actor: str
) -> tuple[str, bool]:
    """Tag the head (seq, hash). Returns (tag, created); an existing tag must agree."""
    name = tag_name(prefix, project, seq)
    for anchor in read_anchors(repo, prefix=prefix, project=project):
        if anchor.where == name:
            if anchor.hash != hash:
                raise Conflict(
                    f"tag {name} already anchors seq {seq} with a different hash",
                    hint="run `monoloop audit verify`: the ledger may have been rewritten",
                )
            return name, False
    record = json.dumps(
        {"format": ANCHOR_FORMAT, "project": project, "seq": seq, "hash": hash, "time": time},
        sort_keys=True,
    )
    blob = git(["hash-object", "-w", "--stdin"], repo, input=record.encode()).stdout.decode()
    env = {}
    if config_get("user.email", repo) is None:
        env = {"GIT_COMMITTER_NAME": actor, "GIT_COMMITTER_EMAIL": actor}
    git(["tag", "-a", name, blob.strip(), "-m", record], repo, env=env)
    return name, True


def read_anchors(repo: Path, *, prefix: str, project: str) -> list[Anchor]:
    ref = f"refs/tags/{tag_prefix(prefix, project)}/"
    out = git(
        ["for-each-ref", "--format=%(refname:strip=2)%00%(contents)%00", ref], repo
    ).stdout.decode()
    parts = out.split("\0")
    anchors = []
    for name, contents in zip(parts[0::2], parts[1::2], strict=False):
        name = name.strip()
        if not name:
            continue
        try:
            record = json.loads(contents.strip().splitlines()[0])
            anchors.append(Anchor(int(record["seq"]), str(record["hash"]), name))
        except (ValueError, KeyError, IndexError, TypeError):
            # An unreadable anchor is itself a sign of tampering: verify fails on it.
            anchors.append(Anchor(-1, "", name))
    return anchors

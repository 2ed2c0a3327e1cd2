"""A workspace: a Git repository with monoloop.yaml, opened into config + DB + store + actor.

Everything that needs state takes a `Workspace` explicitly; nothing is global.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection

from monoloop import gitutil
from monoloop.config import (
    ENV_ACTOR,
    ENV_DB_URL,
    ENV_STORE_URL,
    Config,
    Overrides,
    default_config_text,
    load_config,
    parse_config,
    stamp_valid_config,
)
from monoloop.errors import WorkspaceError
from monoloop.fsutil import atomic_write_text
from monoloop.identity import default_actor
from monoloop.ledger import Event
from monoloop.root import CONFIG_FILE, STATE_DIR, default_db_url, find_root
from monoloop.store.db import Database
from monoloop.store.objects import ObjectStore, open_store, redact


@dataclass(frozen=True)
class Settings:
    """Where a workspace's state lives, resolved from monoloop.yaml and the environment."""

    root: Path
    config: Config
    db_url: str
    store_url: str | None
    actor: str

    @classmethod
    def resolve(cls, root: Path, config: Config, overrides: Overrides) -> Settings:
        db_url = overrides.db_url or config.db.url or default_db_url(root)
        store_url = overrides.store_url or config.store.url
        actor = overrides.actor or default_actor(root)
        return cls(root, config, db_url, store_url, actor)


@dataclass
class Workspace:
    root: Path
    config: Config
    db: Database
    objects: ObjectStore
    actor: str
    settings: Settings = field(repr=False)

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    def record(
        self, conn: Connection, kind: str, subject: str, payload: dict[str, Any] | None = None
    ) -> Event:
        """Append an audit event inside the caller's write transaction."""
        from monoloop.audit.service import append_event

        return append_event(
            conn, actor=self.actor, kind=kind, subject=subject, payload=payload or {}
        )

    def acting_as(self, actor: str) -> Workspace:
        """The same workspace with another actor: what the server gives each request, so
        that the ledger names the API token's owner. It shares the DB and the store: close
        the original, never the view."""
        return dataclasses.replace(
            self, actor=actor, settings=dataclasses.replace(self.settings, actor=actor)
        )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def load_settings(root: Path, *, env: Mapping[str, str] | None = None) -> Settings:
    config = load_config(root / CONFIG_FILE)
    stamp_valid_config(root, config)
    return Settings.resolve(root, config, Overrides.from_env(env))


def describe_settings(
    settings: Settings, *, env: Mapping[str, str] | None = None
) -> dict[str, dict[str, Any]]:
    """Each effective setting with its source (env, monoloop.yaml or default); no secrets."""
    over = Overrides.from_env(env)
    cfg = settings.config

    def source(env_value: str | None, file_value: str | None, env_name: str) -> str:
        if env_value:
            return env_name
        return CONFIG_FILE if file_value else "default"

    store = settings.store_url or str(settings.root / STATE_DIR / "objects")
    return {
        "root": {"value": str(settings.root), "source": "found"},
        "project": {"value": cfg.project, "source": CONFIG_FILE},
        "db_url": {
            "value": redact(settings.db_url),
            "source": source(over.db_url, cfg.db.url, ENV_DB_URL),
        },
        "store_url": {
            "value": redact(store),
            "source": source(over.store_url, cfg.store.url, ENV_STORE_URL),
        },
        "actor": {
            "value": settings.actor,
            "source": ENV_ACTOR if over.actor else "git user.email or OS user",
        },
    }


def open_workspace(start: Path | None = None, *, env: Mapping[str, str] | None = None) -> Workspace:
    return _open(load_settings(find_root(start or Path.cwd()), env=env))


def open_settings(settings: Settings) -> Workspace:
    """The workspace these already resolved settings describe (an app built from settings)."""
    return _open(settings)


def _open(settings: Settings) -> Workspace:
    # The store is checked first: it only parses its URL, so a bad one fails before any DB work.
    objects = open_store(
        settings.store_url,
        default_root=settings.root / STATE_DIR / "objects",
        options=settings.config.store.options,
    )
    db = Database.open(settings.db_url)
    return Workspace(settings.root, settings.config, db, objects, settings.actor, settings)


@dataclass(frozen=True)
class InitResult:
    root: Path
    created: list[str]
    git_initialized: bool

    @property
    def changed(self) -> bool:
        return bool(self.created) or self.git_initialized

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "created": self.created,
            "git_initialized": self.git_initialized,
        }


def init_workspace(
    path: Path, *, git_init: bool = False, env: Mapping[str, str] | None = None
) -> InitResult:
    """Make `path` a workspace. Idempotent; on any error nothing is left changed."""
    path = path.resolve()
    if path.exists() and not path.is_dir():
        raise WorkspaceError(f"{path} is not a directory", hint="give the path of a directory")
    git_initialized = False
    if gitutil.toplevel(path) is None:
        if not git_init:
            raise WorkspaceError(
                f"{path} is not inside a Git repository",
                hint="run `git init` there first, or `monoloop init --git-init` to do it",
            )
        path.mkdir(parents=True, exist_ok=True)
        gitutil.init(path)
        git_initialized = True

    config_path = path / CONFIG_FILE
    if config_path.exists():
        config = load_config(config_path)
        config_text = None
    else:
        config_text = default_config_text(_project_name(path))
        config = parse_config(config_text)
    settings = Settings.resolve(path, config, Overrides.from_env(env))

    created: list[str] = []
    state = path / STATE_DIR
    if not state.exists():
        state.mkdir()
        created.append(STATE_DIR + "/")
    try:
        ws = _open(settings)
    except BaseException:
        if created:
            shutil.rmtree(state, ignore_errors=True)
        raise
    with ws:
        if config_text is not None:
            atomic_write_text(config_path, config_text)
            created.append(CONFIG_FILE)
        if _ensure_ignored(path / ".gitignore", STATE_DIR + "/"):
            created.append(".gitignore entry " + STATE_DIR + "/")
        if created or git_initialized:
            with ws.db.write() as conn:
                ws.record(conn, "workspace.init", config.project, {"created": created})
    stamp_valid_config(path, config)  # the first fast command then skips validation
    return InitResult(path, created, git_initialized)


def _project_name(path: Path) -> str:
    name = "".join(c if c.isalnum() or c in "._-" else "-" for c in path.name).strip(".-_")
    return name or "project"


def _ensure_ignored(gitignore: Path, entry: str) -> bool:
    lines = gitignore.read_text(encoding="utf-8").splitlines() if gitignore.exists() else []
    if entry in lines or entry.rstrip("/") in lines or "/" + entry in lines:
        return False
    text = "\n".join([*lines, entry]) + "\n"
    atomic_write_text(gitignore, text)
    return True

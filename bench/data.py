"""Data-versioning commands end to end, as a user waits, against floors and optionally DVC.

Prints one JSON line on stdout; progress goes to stderr, one line per step. Two datasets:
"big", one file of --size-mib MiB of random bytes (no 1 MiB piece repeats, nothing
compresses), and "many", --files files of --file-kib KiB spread over 100 directories.
For each dataset, each round runs the whole sequence in fresh directories, timing every
command as a whole process:

    add                 `monoloop data add PATH` in a fresh `git init` + `monoloop init` repo
    status_noop         `monoloop data status`, nothing changed
    status_one_changed  the same after rewriting one small file's bytes, or a few bytes in
                        the middle of the big file (same size, new mtime)
    push                `monoloop data push` to a fresh file:// remote
    pull_clean_clone    `git clone` of the committed repo, `monoloop init`, then
                        `monoloop data pull` (only the pull is timed; the data is verified)

With --compare dvc the same sequence runs with DVC (installed once into a virtualenv in the
scratch directory, outside any timing), interleaved with monoloop round by round.

Floors, timed in the same rounds on the same bytes: BLAKE3 of the big file (every core, and
one thread), shutil.copyfile of it; BLAKE3 of each small file, a copy of every small file, a
recursive os.scandir + stat walk; `python -c pass` and `monoloop --version` start-up.

Cache: warm. Dropping the page cache needs root, so every byte that a step or floor reads
was just written or read (the datasets are generated and hashed before the rounds, and each
round's repository copy is freshly written). os.sync() runs before every timed step so no
step pays for another's dirty pages. Small-file trees are only deleted at the end: on ext4
without a journal, creating files right after mass deletes is slowed by the inode
allocator, which would time the clean-up, not the tool. Big files too stay until the end
when the disk has room for them all (`big_files_kept` in the output); otherwise they are
freed after each round, and the step after a deletion may be slowed.

    python bench/data.py [--size-mib 1024] [--files 10000] [--file-kib 10] [--repeat 4]
                         [--dir DIR] [--compare dvc] [--keep]
                         [--datasets big,many] [--only add,status,push,pull]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import blake3
import numpy as np

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30
SUBDIRS = 100
STEP_TIMEOUT = 3600.0  # one timed command, generous for 100,000 files with DVC
QUICK_TIMEOUT = 600.0  # git and set-up commands
INSTALL_TIMEOUT = 1800.0  # pip install dvc
STEPS = ("add", "status_noop", "status_one_changed", "push", "pull_clean_clone")
GROUPS: dict[str, tuple[str, ...]] = {
    "add": ("add",),
    "status": ("add", "status_noop", "status_one_changed"),
    "push": ("add", "push"),
    "pull": ("add", "push", "pull_clean_clone"),
}
DATASETS = ("big", "many")
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_TERMINAL_PROMPT": "0",
}


class BenchError(Exception):
    """A set-up problem or a command that failed: the bench stops with this message."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(
    args: Sequence[str | Path], cwd: Path, env: dict[str, str], timeout: float = QUICK_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def clock(fn: Callable[[], object]) -> float:
    """Wall seconds of fn(), after flushing everyone's dirty pages."""
    os.sync()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def clean_env(base: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONOLOOP_", "DVC_"))}
    env.update(GIT_ENV)
    env["MONOLOOP_ACTOR"] = "bench"
    # Compiled bytecode, as an installed package has it (pip compiles DVC's on install):
    # with PYTHONDONTWRITEBYTECODE set, monoloop's editable source would be compiled again
    # by every command. The cache goes to the scratch directory, never into src/.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(base / "pycache")
    return env


# --- datasets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    key: str  # "big" or "many"
    name: str  # its path inside a repository
    master: Path  # the pristine copy every round starts from
    files: tuple[str, ...]  # relative paths under master (one "" for the big file)
    nbytes: int
    digest: str  # BLAKE3 of the big file; "" for many


def make_big(base: Path, size: int, rng: np.random.Generator) -> Dataset:
    path = base / "master-big.bin"
    with path.open("wb") as out:
        left = size
        while left:
            n = min(left, 16 * MIB)
            out.write(rng.bytes(n))  # fresh random bytes: no piece repeats or compresses
            left -= n
    return Dataset("big", "big.bin", path, ("",), size, hash_big(path, blake3.blake3.AUTO))


def many_paths(count: int) -> tuple[str, ...]:
    return tuple(f"d{i % SUBDIRS:03d}/f{i:07d}.bin" for i in range(count))


def make_many(base: Path, count: int, size: int, rng: np.random.Generator) -> Dataset:
    root = base / "master-many"
    rels = many_paths(count)
    copy_tree_files(None, root, rels, lambda rel, dst: dst.write_bytes(rng.bytes(size)))
    return Dataset("many", "files", root, rels, count * size, "")


def copy_tree_files(
    src: Path | None,
    dst: Path,
    rels: Iterable[str],
    write: Callable[[str, Path], object] | None = None,
) -> None:
    """Create dst/rel for every rel, by copying src/rel or by calling write(rel, path)."""
    rels = list(rels)
    for parent in sorted({Path(rel).parent for rel in rels}):
        (dst / parent).mkdir(parents=True, exist_ok=True)
    for rel in rels:
        if write is not None:
            write(rel, dst / rel)
        elif src is not None:
            shutil.copyfile(src / rel, dst / rel)


def place(data: Dataset, target: Path) -> None:
    """A fresh, page-cache-warm copy of the dataset at target."""
    if data.key == "big":
        shutil.copyfile(data.master, target)
    else:
        copy_tree_files(data.master, target, data.files)


def change_one(data: Dataset, target: Path) -> None:
    """Rewrite bytes in place, same size: a few in the big file, or one whole small file."""
    if data.key == "big":
        path, offset, length = target, data.nbytes // 2, 16
    else:
        path, offset, length = target / data.files[len(data.files) // 2], 0, -1
    with path.open("r+b") as f:
        f.seek(offset)
        old = f.read(length)
        f.seek(offset)
        f.write(bytes(b ^ 0xFF for b in old))


def same_as_master(data: Dataset, target: Path) -> str | None:
    """None if target holds exactly the dataset's bytes, else what differs."""
    if data.key == "big":
        if not target.is_file():
            return f"{target} is missing"
        got = hash_big(target, blake3.blake3.AUTO)
        return None if got == data.digest else f"{target}: blake3 {got} != {data.digest}"
    found = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    if found != sorted(data.files):
        return f"{target}: {len(found)} files, expected {len(data.files)}"
    _, mismatch, errors = filecmp.cmpfiles(data.master, target, data.files, shallow=False)
    if mismatch or errors:
        return f"{target}: {len(mismatch)} files differ, {len(errors)} unreadable"
    return None


# --- floors ---------------------------------------------------------------------------------


def hash_big(path: Path, threads: int) -> str:
    hasher = blake3.blake3(max_threads=threads)
    hasher.update_mmap(str(path))
    return str(hasher.hexdigest())


def hash_each(root: Path, rels: Sequence[str]) -> None:
    for rel in rels:
        blake3.blake3((root / rel).read_bytes()).digest()


def stat_walk(root: Path) -> int:
    count = 0
    pending = [str(root)]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                entry.stat(follow_symlinks=False)
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                else:
                    count += 1
    return count


def big_floors(data: Dataset, scratch: Path) -> dict[str, float]:
    copy = scratch / "floor-copy.bin"  # left for the end-of-round clean-up
    return {
        "blake3_mt": clock(lambda: hash_big(data.master, blake3.blake3.AUTO)),
        "blake3_st": clock(lambda: hash_big(data.master, 1)),
        "copy": clock(lambda: shutil.copyfile(data.master, copy)),
    }


def many_floors(data: Dataset, scratch: Path) -> dict[str, float]:
    counted: list[int] = []
    times = {
        "blake3_each": clock(lambda: hash_each(data.master, data.files)),
        "copy_all": clock(lambda: place(data, scratch)),
        "stat_walk": clock(lambda: counted.append(stat_walk(data.master))),
    }
    if counted != [len(data.files)]:
        raise BenchError(f"stat walk found {counted} files, expected {len(data.files)}")
    return times


def startup_floors(monoloop: Path, env: dict[str, str], cwd: Path) -> dict[str, float]:
    return {
        "python_startup": clock(lambda: run([sys.executable, "-c", "pass"], cwd, env)),
        "monoloop_version": clock(lambda: run([monoloop, "--version"], cwd, env)),
    }


# --- the tools ------------------------------------------------------------------------------


@dataclass
class Tool:
    """One data-versioning CLI: how to set up a repository and spell each step."""

    name: str
    exe: Path
    env: dict[str, str]
    pointer_suffix: str  # the file `add` writes beside PATH, to commit

    def git(self, args: Sequence[str | Path], cwd: Path) -> None:
        run(["git", *args], cwd, self.env)

    def call(self, args: Sequence[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
        return run([self.exe, *args], cwd, self.env, STEP_TIMEOUT)

    def init_repo(self, repo: Path) -> None:
        raise NotImplementedError

    def steps(self, target: str) -> dict[str, list[str]]:
        raise NotImplementedError

    def status_ok(self, stdout: str, *, changed: bool) -> bool:
        raise NotImplementedError

    def set_remote(self, repo: Path, remote: Path) -> None:
        raise NotImplementedError

    def init_clone(self, clone: Path) -> None:
        """Set-up a user does in a fresh clone before pulling (not timed)."""


class Monoloop(Tool):
    def init_repo(self, repo: Path) -> None:
        self.git(["init", "-q", repo], repo.parent)
        self.call(["-q", "init"], repo)

    def steps(self, target: str) -> dict[str, list[str]]:
        status = ["-q", "data", "status"]
        return {
            "add": ["-q", "data", "add", target],
            "status_noop": status,
            "status_one_changed": status,
            "push": ["-q", "data", "push"],
            "pull_clean_clone": ["-q", "data", "pull"],
        }

    def status_ok(self, stdout: str, *, changed: bool) -> bool:
        states = [line.split()[0] for line in stdout.splitlines() if line.strip()]
        return states == (["modified"] if changed else ["unchanged"])

    def set_remote(self, repo: Path, remote: Path) -> None:
        # As a user would, and as DVC's is set: the command validates and stamps the config.
        self.call(["-q", "data", "remote", "add", "--default", "origin", f"file://{remote}"], repo)

    def init_clone(self, clone: Path) -> None:
        self.call(["-q", "init"], clone)


class Dvc(Tool):
    def init_repo(self, repo: Path) -> None:
        self.git(["init", "-q", repo], repo.parent)
        self.call(["init", "-q"], repo)
        self.call(["config", "core.analytics", "false"], repo)
        self.git(["add", "-A"], repo)
        self.git(["commit", "-q", "-m", "dvc init"], repo)

    def steps(self, target: str) -> dict[str, list[str]]:
        return {
            "add": ["add", "-q", target],
            "status_noop": ["status"],
            "status_one_changed": ["status"],
            "push": ["push", "-q"],
            "pull_clean_clone": ["pull", "-q"],
        }

    def status_ok(self, stdout: str, *, changed: bool) -> bool:
        return "modified" in stdout if changed else "up to date" in stdout

    def set_remote(self, repo: Path, remote: Path) -> None:
        self.call(["remote", "add", "-d", "origin", remote], repo)


def install_dvc(base: Path, env: dict[str, str]) -> Dvc:
    venv = base / "dvc-venv"
    python3 = shutil.which("python3") or sys.executable
    log(f"installing dvc into {venv} (not timed)")
    run([python3, "-m", "venv", venv], base, env)
    pip: list[str | Path] = [venv / "bin" / "python", "-m", "pip", "install", "--quiet"]
    run([*pip, "--disable-pip-version-check", "dvc"], base, env, INSTALL_TIMEOUT)
    dvc_env = dict(env)
    dvc_env.update(
        {
            "DVC_NO_ANALYTICS": "1",
            "DVC_SITE_CACHE_DIR": str(base / "dvc-site-cache"),
            "DVC_GLOBAL_CONFIG_DIR": str(base / "dvc-global-config"),
            "DVC_SYSTEM_CONFIG_DIR": str(base / "dvc-system-config"),
        }
    )
    return Dvc("dvc", venv / "bin" / "dvc", dvc_env, ".dvc")


def find_monoloop() -> Path:
    beside = Path(sys.executable).with_name("monoloop")
    found = str(beside) if beside.exists() else shutil.which("monoloop")
    if found is None:
        raise BenchError("no monoloop executable beside this Python nor on PATH")
    return Path(found)


# --- one round of one tool on one dataset ---------------------------------------------------


@dataclass
class Recorder:
    """Samples per tool, dataset and step; floors; and anything that went wrong."""

    samples: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    floors: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    anomalies: list[dict[str, object]] = field(default_factory=list)

    def add(self, tool: str, dataset: str, step: str, seconds: float) -> None:
        per = self.samples.setdefault(tool, {}).setdefault(dataset, {})
        per.setdefault(step, []).append(seconds)

    def add_floors(self, group: str, times: dict[str, float]) -> None:
        for name, seconds in times.items():
            self.floors.setdefault(group, {}).setdefault(name, []).append(seconds)

    def anomaly(self, tool: str, dataset: str, step: str, what: str, out: str = "") -> None:
        self.anomalies.append(
            {"tool": tool, "dataset": dataset, "step": step, "what": what, "output": out[:2000]}
        )
        log(f"  ANOMALY {tool} {dataset} {step}: {what}")


@dataclass
class Round:
    tool: Tool
    data: Dataset
    where: Path
    steps: frozenset[str]
    rec: Recorder
    label: str

    def timed(self, step: str, cwd: Path) -> str:
        args = self.tool.steps(self.data.name)[step]
        holder: list[subprocess.CompletedProcess[str]] = []
        seconds = clock(lambda: holder.append(self.tool.call(args, cwd)))
        self.rec.add(self.tool.name, self.data.key, step, seconds)
        log(f"{self.label} {self.tool.name} {self.data.key} {step}: {seconds:.3f}s")
        if self.tool.name == "monoloop" and holder[0].stderr.strip():
            self.note(step, "wrote to stderr under -q", holder[0].stderr)
        return holder[0].stdout

    def note(self, step: str, what: str, out: str = "") -> None:
        self.rec.anomaly(self.tool.name, self.data.key, step, what, out)

    def run(self) -> None:
        src = self.where / "src"
        self.tool.init_repo(src)
        place(self.data, src / self.data.name)
        self.timed("add", src)
        self.check_added(src)
        if "status_noop" in self.steps:
            self.status(src)
        if "push" in self.steps:
            self.push(src)
        if "pull_clean_clone" in self.steps:
            self.pull(src)

    def check_added(self, src: Path) -> None:
        name = self.data.name
        if not (src / f"{name}{self.tool.pointer_suffix}").is_file():
            self.note("add", f"no {name}{self.tool.pointer_suffix} pointer file")
        ignored = (src / ".gitignore").read_text().split()
        if f"/{name}" not in ignored and name not in ignored:
            self.note("add", f"{name} is not in .gitignore")

    def status(self, src: Path) -> None:
        out = self.timed("status_noop", src)
        if not self.tool.status_ok(out, changed=False):
            self.note("status_noop", "did not report the data unchanged", out)
        change_one(self.data, src / self.data.name)
        out = self.timed("status_one_changed", src)
        if not self.tool.status_ok(out, changed=True):
            self.note("status_one_changed", "did not report the data modified", out)

    def push(self, src: Path) -> None:
        remote = self.where / "remote"
        remote.mkdir()
        self.tool.set_remote(src, remote)
        self.timed("push", src)

    def pull(self, src: Path) -> None:
        clone = self.where / "clone"
        self.tool.git(["add", "-A"], src)
        self.tool.git(["commit", "-q", "-m", "data"], src)
        self.tool.git(["clone", "-q", src, clone], self.where)
        if self.tool.name == "monoloop":
            seconds = clock(lambda: self.tool.init_clone(clone))
            self.rec.add(self.tool.name, self.data.key, "init_in_clone", seconds)
            log(f"{self.label} monoloop {self.data.key} init_in_clone: {seconds:.3f}s")
        self.timed("pull_clean_clone", clone)
        problem = same_as_master(self.data, clone / self.data.name)
        if problem:
            self.note("pull_clean_clone", f"pulled data differs: {problem}")


def free_big_files(root: Path) -> None:
    """After a big-dataset round: delete its copies (files of 1 MiB or more) to free the disk."""
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = Path(dirpath, name)
            if not path.is_symlink() and path.stat().st_size >= MIB:
                path.unlink()


# --- the whole run --------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    datasets: tuple[str, ...]
    steps: frozenset[str]
    repeat: int


def run_rounds(
    plan: Plan,
    data: dict[str, Dataset],
    tools: list[Tool],
    base: Path,
    rec: Recorder,
    *,
    keep_big: bool,
) -> None:
    monoloop = tools[0]
    for i in range(plan.repeat):
        label = f"[{i + 1}/{plan.repeat}]"
        rec.add_floors("startup", startup_floors(monoloop.exe, monoloop.env, base))
        for key in plan.datasets:
            scratch = base / f"floors-{key}-{i}"
            scratch.mkdir()
            floors = big_floors if key == "big" else many_floors
            rec.add_floors(key, floors(data[key], scratch))
            shown = ", ".join(f"{n} {v[-1]:.3f}s" for n, v in rec.floors[key].items())
            log(f"{label} floors {key}: {shown}")
            order = tools if i % 2 == 0 else tools[::-1]  # neither tool always goes first
            for tool in order:
                where = base / f"{tool.name}-{key}-{i}"
                where.mkdir()
                Round(tool, data[key], where, plan.steps, rec, label).run()
            if key == "big" and not keep_big:
                free_big_files(scratch)
                # Deleting files here would slow whichever tool runs next (see the module
                # docstring): big files go early only when the disk cannot hold them all.
                if key == "big" and not keep_big:
                    free_big_files(where)


def median_of(samples: list[float]) -> float:
    return round(statistics.median(samples), 4)


def summarize(samples: dict[str, list[float]]) -> dict[str, dict[str, object]]:
    return {
        name: {
            "median_s": median_of(s),
            "min_s": round(min(s), 4),
            "samples_s": [round(x, 4) for x in s],
        }
        for name, s in samples.items()
    }


def medians(rec: Recorder, tool: str, key: str) -> dict[str, float]:
    return {s: median_of(v) for s, v in rec.samples.get(tool, {}).get(key, {}).items()}


def target(met: bool | None, **values: object) -> dict[str, object]:
    return {"met": met, **values}


def not_measured(why: str) -> dict[str, object]:
    return {"met": None, "why": why}


def targets(rec: Recorder, files: int, compared: bool) -> dict[str, object]:
    mono = {k: medians(rec, "monoloop", k) for k in DATASETS}
    dvc = {k: medians(rec, "dvc", k) for k in DATASETS}
    big_floor = rec.floors.get("big", {})
    out: dict[str, object] = {}
    noop = mono["many"].get("status_noop")
    out["status_noop_10k_files_le_0_2s"] = (
        target(noop <= 0.2, seconds=noop, limit_s=0.2, files=files)
        if noop is not None and files == 10_000
        else not_measured("needs --files 10000 and the status steps")
    )
    add_many = mono["many"].get("add")
    out["add_10k_files_le_1s"] = (
        target(add_many <= 1.0, seconds=add_many, limit_s=1.0, files=files)
        if add_many is not None and files == 10_000
        else not_measured("needs --files 10000")
    )
    add_big = mono["big"].get("add")
    if add_big is not None and big_floor:
        floor = round(median_of(big_floor["blake3_mt"]) + median_of(big_floor["copy"]), 4)
        out["add_big_le_1_4x_hash_copy_floor"] = target(
            add_big <= 1.4 * floor, ratio=round(add_big / floor, 3), seconds=add_big, floor_s=floor
        )
    else:
        out["add_big_le_1_4x_hash_copy_floor"] = not_measured("needs the big dataset")
    for step in ("push", "pull_clean_clone"):
        for key in DATASETS:
            out[f"{step}_{key}_ge_5x_faster_than_dvc"] = faster(mono[key], dvc[key], step, 5.0)
    status_100k = faster(mono["many"], dvc["many"], "status_noop", 10.0)
    out["status_noop_100k_files_ge_10x_faster_than_dvc"] = (
        status_100k if files >= 100_000 else not_measured("needs --files 100000")
    )
    if not compared:
        out = {k: v for k, v in out.items() if "dvc" not in k}
    return out


def faster(mono: dict[str, float], dvc: dict[str, float], step: str, factor: float) -> object:
    if step not in mono or step not in dvc:
        return not_measured("needs --compare dvc and this step")
    ratio = dvc[step] / mono[step]
    return target(ratio >= factor, dvc_over_monoloop=round(ratio, 2), limit=factor)


def ratios(rec: Recorder) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for key in DATASETS:
        mono, dvc = medians(rec, "monoloop", key), medians(rec, "dvc", key)
        common = [s for s in STEPS if s in mono and s in dvc]
        if common:
            out[key] = {s: round(dvc[s] / mono[s], 2) for s in common}
    return out


def filesystem_of(path: Path) -> str:
    best, kind = "", "unknown"
    with open("/proc/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if len(fields) > 2 and str(path).startswith(fields[1]) and len(fields[1]) > len(best):
                best, kind = fields[1], fields[2]
    return kind


def monoloop_source(env: dict[str, str]) -> str:
    import monoloop

    here = Path(monoloop.__file__).parent
    try:
        return run(["git", "describe", "--always", "--dirty"], here, env).stdout.strip()
    except (subprocess.CalledProcessError, OSError):
        return "unknown"


def report(
    args: argparse.Namespace, plan: Plan, rec: Recorder, tools: list[Tool], base: Path
) -> dict[str, object]:
    monoloop = tools[0]
    result: dict[str, object] = {
        "bench": "data",
        "monoloop_version": run([monoloop.exe, "--version"], base, monoloop.env).stdout.strip(),
        "monoloop_source_start_end": [args.source_start, monoloop_source(monoloop.env)],
        "dvc_version": None,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "loadavg_1m_start_end": [args.load_start, round(os.getloadavg()[0], 2)],
        "fs": filesystem_of(base),
        "dir": str(base),
        "cache": "warm",
        "cache_note": "data read or written just before each step; os.sync() before each",
        "big_files_kept": args.keep_big,
        "repeat": plan.repeat,
        "size_mib": args.size_mib,
        "files": args.files,
        "file_kib": args.file_kib,
        "subdirs": SUBDIRS,
        "datasets": list(plan.datasets),
        "steps": [s for s in STEPS if s in plan.steps],
        "floors": {group: summarize(s) for group, s in rec.floors.items()},
    }
    for tool in tools:
        result[tool.name] = {k: summarize(s) for k, s in rec.samples.get(tool.name, {}).items()}
    if len(tools) > 1:
        result["dvc_version"] = run([tools[1].exe, "--version"], base, tools[1].env).stdout.strip()
        result["dvc_over_monoloop"] = ratios(rec)
    result["targets"] = targets(rec, args.files, len(tools) > 1)
    result["anomalies"] = rec.anomalies
    return result


# --- set-up and clean-up --------------------------------------------------------------------


def dataset_bytes(args: argparse.Namespace, plan: Plan) -> tuple[int, int]:
    big = args.size_mib * MIB if "big" in plan.datasets else 0
    # Small files take whole 4 KiB blocks, plus directory blocks: count a quarter more.
    many = args.files * args.file_kib * KIB * 5 // 4 if "many" in plan.datasets else 0
    return big, many


def check_disk(args: argparse.Namespace, plan: Plan, parent: Path, tools: int) -> bool:
    """Fail early if the run cannot fit; True if big files can stay until the end."""
    big, many = dataset_bytes(args, plan)
    copies = 2 + ("push" in plan.steps) + 2 * ("pull_clean_clone" in plan.steps)
    kept = plan.repeat * tools * copies  # copies a round leaves behind until the end
    estimate = big * (3 + copies) + many * (2 + plan.repeat + kept)
    if args.keep:
        estimate += big * kept
    need = max(10 * (big + many), estimate)
    free = shutil.disk_usage(parent).free
    if free < need:
        raise BenchError(
            f"not enough free disk in {parent}: {free / GIB:.1f} GiB free, need "
            f"{need / GIB:.1f} GiB (at least 10x the {(big + many) / GIB:.2f} GiB of data); "
            "use --dir elsewhere, or a smaller --size-mib/--files"
        )
    # Every round's big copies (and floor copy) kept, with 10 GiB to spare.
    return args.keep or free >= estimate + big * (kept + plan.repeat) + 10 * GIB


def force_rmtree(path: Path) -> None:
    def unlock(func: Callable[..., object], name: str, _exc: object) -> None:
        os.chmod(os.path.dirname(name), 0o755)
        func(name)

    shutil.rmtree(path, onerror=unlock)


def parse_list(text: str, allowed: Iterable[str], what: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in items if t not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"{what}: choose from {', '.join(allowed)}")
    return items


def make_plan(args: argparse.Namespace) -> Plan:
    datasets = parse_list(args.datasets, DATASETS, "--datasets")
    groups = parse_list(args.only, GROUPS, "--only")
    steps = frozenset(step for g in groups for step in GROUPS[g])
    return Plan(tuple(k for k in DATASETS if k in datasets), steps, max(1, args.repeat))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the big file")
    parser.add_argument("--files", type=int, default=10_000, help="number of small files")
    parser.add_argument("--file-kib", type=int, default=10, help="size of each small file")
    parser.add_argument("--repeat", type=int, default=4, help="rounds; medians are reported")
    parser.add_argument("--dir", default=None, help="parent directory for the scratch files")
    parser.add_argument("--compare", choices=["dvc"], default=None, help="also run DVC")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory")
    parser.add_argument("--datasets", default="big,many", help="big, many or big,many")
    parser.add_argument(
        "--only", default="add,status,push,pull", help="step groups: add,status,push,pull"
    )
    return parser.parse_args(argv)


def prepare(
    args: argparse.Namespace, plan: Plan, base: Path, env: dict[str, str]
) -> tuple[dict[str, Dataset], list[Tool]]:
    tools: list[Tool] = [Monoloop("monoloop", find_monoloop(), env, ".loop")]
    if args.compare == "dvc":
        tools.append(install_dvc(base, env))
    rng = np.random.default_rng()
    data: dict[str, Dataset] = {}
    if "big" in plan.datasets:
        log(f"generating {args.size_mib} MiB file")
        data["big"] = make_big(base, args.size_mib * MIB, rng)
    if "many" in plan.datasets:
        log(f"generating {args.files} files of {args.file_kib} KiB")
        data["many"] = make_many(base, args.files, args.file_kib * KIB, rng)
        hash_each(data["many"].master, data["many"].files)  # read once more: warm
    return data, tools


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.load_start = round(os.getloadavg()[0], 2)  # other jobs on the machine add noise
    started = time.perf_counter()
    try:
        plan = make_plan(args)
        parent = Path(args.dir or tempfile.gettempdir()).resolve()
        args.keep_big = check_disk(args, plan, parent, 1 + (args.compare == "dvc"))
    except (BenchError, argparse.ArgumentTypeError) as exc:
        log(f"bench/data.py: {exc}")
        return 2
    base = Path(tempfile.mkdtemp(prefix="monoloop-bench-data-", dir=parent))
    env = clean_env(base)
    args.source_start = monoloop_source(env)  # an editable install: others may edit src/
    try:
        data, tools = prepare(args, plan, base, env)
        rec = Recorder()
        run_rounds(plan, data, tools, base, rec, keep_big=args.keep_big)
        result = report(args, plan, rec, tools, base)
    except subprocess.CalledProcessError as exc:
        log(f"command failed (exit {exc.returncode}): {' '.join(map(str, exc.cmd))}")
        log(f"stdout:\n{exc.stdout}\nstderr:\n{exc.stderr}")
        return 1
    except (subprocess.TimeoutExpired, BenchError) as exc:
        log(f"bench/data.py: {exc}")
        return 1
    finally:
        if args.keep:
            log(f"kept {base}")
        else:
            log(f"removing {base}")
            force_rmtree(base)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A 50-stage chain of trivial stages, run as a user waits: first run and no-op re-run.

Prints one JSON line on stdout; progress goes to stderr. Each stage is a `python -c`
command (this interpreter, by absolute path) that reads the previous stage's output file
and writes its own, so the DAG is a chain and nothing can run in parallel. Timed as whole
processes, in fresh Git repositories each round:

    first_run   `monoloop run` in a fresh workspace (every stage runs, runs are tracked)
    noop        `monoloop run` again, nothing changed (every stage skipped); best and median
                of --noop-repeat tries per round

With --compare dvc the same chain runs with `dvc repro` (DVC installed once into a
virtualenv in the scratch directory, not timed; DVC_NO_ANALYTICS=1), in the same rounds,
and the ratios DVC/monoloop are printed. Floors: `python -c pass` (one stage's process
start) and `monoloop --version` (the CLI's start-up).

Targets: first run <= 3 s, no-op <= 0.25 s.

    python bench/pipeline.py [--stages 50] [--repeat 3] [--noop-repeat 5] [--dir DIR]
                             [--compare dvc] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIRST_RUN_TARGET_S = 3.0
NOOP_TARGET_S = 0.25
STEP_TIMEOUT = 600.0
INSTALL_TIMEOUT = 1800.0


class BenchError(Exception):
    pass


def log(message: str) -> None:
    sys.stderr.write(f"[bench/pipeline] {message}\n")
    sys.stderr.flush()


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MONOLOOP_", "DVC_"))}


def run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = STEP_TIMEOUT) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, timeout=timeout)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise BenchError(
            f"{' '.join(map(str, cmd))} failed ({proc.returncode}) in {cwd}:\n"
            + proc.stdout.decode(errors="replace")[-2000:]
            + proc.stderr.decode(errors="replace")[-2000:]
        )
    return took


def stage_cmd(i: int) -> str:
    src = "seed.txt" if i == 0 else f"out/s{i - 1:03d}.txt"
    code = f"open('out/s{i:03d}.txt','w').write(open('{src}').read()+'{i} ')"
    return f'{sys.executable} -c "{code}"'


def monoloop_yaml(stages: int) -> str:
    lines = ["pipelines:", "  chain:", "    stages:"]
    for i in range(stages):
        src = "seed.txt" if i == 0 else f"out/s{i - 1:03d}.txt"
        lines += [
            f"      s{i:03d}:",
            f"        cmd: {json.dumps(stage_cmd(i))}",
            f"        deps: [{src}]",
            f"        outs: [out/s{i:03d}.txt]",
        ]
    return "\n".join(lines) + "\n"


def dvc_yaml(stages: int) -> str:
    lines = ["stages:"]
    for i in range(stages):
        src = "seed.txt" if i == 0 else f"out/s{i - 1:03d}.txt"
        lines += [
            f"  s{i:03d}:",
            f"    cmd: {json.dumps(stage_cmd(i))}",
            f"    deps: [{src}]",
            f"    outs: [out/s{i:03d}.txt]",
        ]
    return "\n".join(lines) + "\n"


def monoloop_command() -> list[str]:
    """`monoloop`, or, until `run` is registered in cli/main.py, the same app plus `run`."""
    exe = Path(sys.executable).with_name("monoloop")
    probe = subprocess.run([exe, "run", "--help"], capture_output=True, check=False)
    if probe.returncode == 0:
        return [str(exe)]
    shim = (
        "import sys; from monoloop.cli import main, run; "
        "names = [c.name for c in main.app.registered_commands]; "
        "'run' in names or main.app.command('run')(run.run); sys.exit(main.run())"
    )
    return [sys.executable, "-c", shim]


def new_repo(path: Path, env: dict[str, str]) -> None:
    path.mkdir(parents=True)
    run(["git", "init", "-q"], path, env)
    (path / "seed.txt").write_text("seed ")
    (path / "out").mkdir()


def monoloop_round(
    base: Path, stages: int, noop_tries: int, env: dict[str, str]
) -> dict[str, float]:
    ws = base / "monoloop"
    new_repo(ws, env)
    ml = monoloop_command()
    run([*ml, "init"], ws, env)
    with (ws / "monoloop.yaml").open("a") as f:
        f.write(monoloop_yaml(stages))
    first = run([*ml, "-q", "run"], ws, env)
    check_chain(ws, stages)
    noops = [run([*ml, "-q", "run"], ws, env) for _ in range(noop_tries)]
    return {"first_run": first, "noop": min(noops), "noop_median": statistics.median(noops)}


def dvc_round(
    base: Path, stages: int, noop_tries: int, dvc: Path, env: dict[str, str]
) -> dict[str, float]:
    repo = base / "dvc"
    new_repo(repo, env)
    run([str(dvc), "init", "-q"], repo, env)
    (repo / "dvc.yaml").write_text(dvc_yaml(stages))
    first = run([str(dvc), "repro", "-q"], repo, env)
    check_chain(repo, stages)
    noops = [run([str(dvc), "repro", "-q"], repo, env) for _ in range(noop_tries)]
    return {"first_run": first, "noop": min(noops), "noop_median": statistics.median(noops)}


def check_chain(root: Path, stages: int) -> None:
    want = "seed " + "".join(f"{i} " for i in range(stages))
    got = (root / "out" / f"s{stages - 1:03d}.txt").read_text()
    if got != want:
        raise BenchError(f"wrong chain output in {root}: {got[:80]!r}")


def install_dvc(base: Path, env: dict[str, str]) -> tuple[Path, dict[str, str]]:
    venv = base / "dvc-venv"
    python3 = shutil.which("python3") or sys.executable
    log(f"installing dvc into {venv} (not timed)")
    run([python3, "-m", "venv", str(venv)], base, env)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
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
    version = subprocess.run(
        [venv / "bin" / "dvc", "--version"], capture_output=True, text=True, env=dvc_env
    ).stdout.strip()
    log(f"dvc {version}")
    dvc_env["BENCH_DVC_VERSION"] = version
    return venv / "bin" / "dvc", dvc_env


def floors(base: Path, env: dict[str, str]) -> dict[str, float]:
    py = min(run([sys.executable, "-c", "pass"], base, env) for _ in range(5))
    cli = min(run([*monoloop_command(), "--version"], base, env) for _ in range(5))
    return {"python_start": round(py, 4), "monoloop_version": round(cli, 4)}


def best(rounds: list[dict[str, float]], key: str) -> float:
    return float(round(min(r[key] for r in rounds), 4))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stages", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--noop-repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--compare", choices=["dvc"], default=None)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="bench-pipeline-", dir=args.dir))
    env = clean_env()
    env.update(
        {
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_AUTHOR_NAME": "bench",
            "GIT_AUTHOR_EMAIL": "bench@example.com",
        }
    )
    try:
        dvc = install_dvc(base, env) if args.compare == "dvc" else None
        mono_rounds: list[dict[str, float]] = []
        dvc_rounds: list[dict[str, float]] = []
        for i in range(args.repeat):
            where = base / f"round{i}"
            log(f"round {i + 1}/{args.repeat}: monoloop")
            mono_rounds.append(monoloop_round(where, args.stages, args.noop_repeat, env))
            if dvc is not None:
                log(f"round {i + 1}/{args.repeat}: dvc")
                dvc_rounds.append(dvc_round(where, args.stages, args.noop_repeat, *dvc))
        first, noop = best(mono_rounds, "first_run"), best(mono_rounds, "noop")
        mono = {
            "first_run_s": first,
            "noop_s": noop,
            "noop_median_s": round(statistics.median(r["noop_median"] for r in mono_rounds), 4),
            "first_run_rounds_s": [round(r["first_run"], 3) for r in mono_rounds],
        }
        report: dict[str, object] = {
            "bench": "pipeline",
            "stages": args.stages,
            "rounds": args.repeat,
            "monoloop": mono,
            "floors": floors(base, env),
            "targets": {
                "first_run": {"limit_s": FIRST_RUN_TARGET_S, "met": first <= FIRST_RUN_TARGET_S},
                "noop": {"limit_s": NOOP_TARGET_S, "met": noop <= NOOP_TARGET_S},
            },
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        }
        if dvc is not None:
            dvc_first, dvc_noop = best(dvc_rounds, "first_run"), best(dvc_rounds, "noop")
            report["dvc"] = {
                "version": dvc[1]["BENCH_DVC_VERSION"],
                "first_run_s": dvc_first,
                "noop_s": dvc_noop,
                "noop_median_s": round(statistics.median(r["noop_median"] for r in dvc_rounds), 4),
                "first_run_rounds_s": [round(r["first_run"], 3) for r in dvc_rounds],
            }
            report["dvc_over_monoloop"] = {
                "first_run": round(dvc_first / first, 2),
                "noop": round(dvc_noop / noop, 2),
            }
        print(json.dumps(report, sort_keys=True))
        return 0
    except BenchError as exc:
        log(str(exc))
        return 1
    finally:
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

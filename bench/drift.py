"""Drift statistics on a 1,000,000-row window against a stored reference profile.

Prints one JSON line on stdout; progress goes to stderr. The data (fixed seed) is made by a
child process into Parquet files in a scratch directory: a reference and a current window
of --rows rows, 20 numeric columns (standard normal) and 5 categorical ones (strings with
3, 5, 10, 20 and 50 categories, Zipf-like frequencies); in the window num_00..num_04 are
shifted by +0.5 standard deviations. The first --small-rows rows of each are the small size.

Each size is measured in a fresh process (so one size's freed memory cannot hide the
other's peak), best of --repeat:
- profile_s: build_profile(reference);
- compare_s (the headline): compare(profile, window), the profile read back from its JSON
  as a registry would store it;
- flagged: the drifted columns; the 5 planted ones must be found, with at most 1 other;
- peak memory of compare: the RSS high-water mark above the RSS before it (VmHWM, reset
  through /proc/self/clear_refs), and the tracemalloc peak (numpy and pandas buffers), each
  against the window's in-memory size.

With --compare evidently, Evidently 0.7.23 (pandas<3: it imports a helper pandas 3 removed)
is installed into a virtualenv in the scratch directory (not timed; DO_NOT_TRACK set) and
runs DataDriftPreset on the --evidently-rows files, timed from Dataset.from_pandas to the
finished report, best of --evidently-repeat. Ratios are at equal size, and against
Evidently's measured 117 s at 1M rows on this machine.

Targets: compare <= 2 s at 1M rows; peak < 2x the window; >= 20x Evidently at 100k rows,
>= 60x its 1M figure.

    python bench/drift.py [--rows 1000000] [--small-rows 100000] [--repeat 3] [--dir DIR]
                          [--compare evidently] [--evidently-rows 100000]
                          [--evidently-venv DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

SEED = 20_240_601
NUMERIC, SHIFTED, SHIFT = 20, 5, 0.5
CATEGORIES = (3, 5, 10, 20, 50)
COMPARE_TARGET_S = 2.0
PEAK_TARGET_RATIO = 2.0
EVIDENTLY_VERSION = "0.7.23"
EVIDENTLY_1M_S = 117.0  # measured on this machine; too slow to run by default
TARGET_VS_EVIDENTLY, TARGET_VS_EVIDENTLY_1M = 20.0, 60.0
STEP_TIMEOUT, INSTALL_TIMEOUT = 1800.0, 1800.0


class BenchError(Exception):
    pass


def log(message: str) -> None:
    sys.stderr.write(f"[bench/drift] {message}\n")
    sys.stderr.flush()


def planted() -> list[str]:
    return [f"num_{i:02d}" for i in range(SHIFTED)]


# --- data --------------------------------------------------------------------------------


def generate(directory: Path, rows: int, heads: list[int]) -> None:
    """reference-N.parquet and current-N.parquet for N = rows, and the first N rows of
    each for every N in `heads`."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)

    def frame(shift: bool) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for i in range(NUMERIC):
            values = rng.standard_normal(rows)
            if shift and i < SHIFTED:
                values += SHIFT
            data[f"num_{i:02d}"] = values
        for k in CATEGORIES:
            names = np.array([f"{chr(97 + j % 26)}{j:02d}" for j in range(k)], dtype=object)
            weights = 1.0 / np.arange(1, k + 1)
            codes = rng.choice(k, rows, p=weights / weights.sum())
            data[f"cat_{k:02d}"] = pd.Series(names[codes], dtype="str")
        return pd.DataFrame(data)

    for name, shift in (("reference", False), ("current", True)):
        df = frame(shift)
        for n in sorted({rows, *heads}):
            df.head(n).to_parquet(directory / f"{name}-{n}.parquet", index=False)


# --- monoloop, one size per process ------------------------------------------------------


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise BenchError(f"no {field} in /proc/self/status")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def measure(directory: Path, rows: int, repeat: int) -> dict[str, Any]:
    import gc
    import tracemalloc

    import pandas as pd

    from monoloop.monitoring import ReferenceProfile, build_profile, compare

    reference = pd.read_parquet(directory / f"reference-{rows}.parquet")
    profile_s, profile = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        profile = build_profile(reference)
        profile_s = min(profile_s, time.perf_counter() - start)
    assert profile is not None
    stored = json.dumps(profile.to_dict())
    del reference, profile
    profile = ReferenceProfile.from_dict(json.loads(stored))
    window = pd.read_parquet(directory / f"current-{rows}.parquet")
    window_bytes = int(window.memory_usage(deep=True).sum())
    gc.collect()

    exact_peak = _reset_peak()
    before = _status("VmRSS")
    report = compare(profile, window)  # also the warm-up run
    rss_extra = _status("VmHWM") - before

    compare_s = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        report = compare(profile, window)
        compare_s = min(compare_s, time.perf_counter() - start)

    tracemalloc.start()
    compare(profile, window)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    flagged = report.drifted
    return {
        "rows": rows,
        "profile_s": round(profile_s, 3),
        "compare_s": round(compare_s, 3),
        "rows_per_s": round(rows / compare_s),
        "flagged": flagged,
        "planted_found": sorted(set(planted()) & set(flagged)) == planted(),
        "false_alarms": sorted(set(flagged) - set(planted())),
        "dataset_drift": report.dataset_drift,
        "profile_json_kib": round(len(stored) / 1024, 1),
        "window_mib": round(window_bytes / 2**20, 1),
        "peak_rss_extra_mib": round(rss_extra / 2**20, 1),
        "peak_rss_ratio": round(rss_extra / window_bytes, 3),
        "peak_rss_exact": exact_peak,
        "peak_traced_mib": round(traced / 2**20, 1),
        "peak_traced_ratio": round(traced / window_bytes, 3),
    }


def run_child(args: list[str], env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=STEP_TIMEOUT, env=env)
    if proc.returncode != 0:
        raise BenchError(
            f"{' '.join(args[:3])} ... failed:\n{proc.stdout[-2000:]}{proc.stderr[-3000:]}"
        )
    return proc.stdout


def monoloop_size(directory: Path, rows: int, repeat: int) -> dict[str, Any]:
    log(f"monoloop at {rows:,} rows")
    cmd = [sys.executable, __file__, "--measure", str(directory), "--rows", str(rows)]
    out = run_child([*cmd, "--repeat", str(repeat)])
    return dict(json.loads(out.strip().splitlines()[-1]))


# --- Evidently ---------------------------------------------------------------------------

EVIDENTLY_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import pandas as pd
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    ref = pd.read_parquet(sys.argv[1])
    cur = pd.read_parquet(sys.argv[2])
    repeat = int(sys.argv[3])
    definition = DataDefinition(
        numerical_columns=[c for c in ref.columns if c.startswith("num_")],
        categorical_columns=[c for c in ref.columns if c.startswith("cat_")],
    )
    best, snapshot = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        current = Dataset.from_pandas(cur, data_definition=definition)
        reference = Dataset.from_pandas(ref, data_definition=definition)
        snapshot = Report([DataDriftPreset()]).run(current, reference)
        best = min(best, time.perf_counter() - start)
    flagged, methods = [], set()
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config["type"].endswith(":ValueDrift"):
            continue
        method, value, threshold = config["method"], metric["value"], config["threshold"]
        methods.add(method)
        drifted = value < threshold if "p_value" in method else value >= threshold
        if drifted:
            flagged.append(config["column"])
    print(json.dumps({"seconds": best, "flagged": sorted(flagged), "methods": sorted(methods)}))
    """
)


def evidently_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update({"DO_NOT_TRACK": "true", "ITERATIVE_DO_NOT_TRACK": "1"})
    return env


def install_evidently(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if python.exists():
        log(f"using the Evidently virtualenv at {venv}")
    else:
        log(f"installing evidently=={EVIDENTLY_VERSION} into {venv} (not timed)")
        run_child([sys.executable, "-m", "venv", str(venv)])
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        proc = subprocess.run(
            [*pip, f"evidently=={EVIDENTLY_VERSION}", "pandas<3", "pyarrow"],
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
            env=evidently_env(),
        )
        if proc.returncode != 0:
            raise BenchError(f"pip install evidently failed:\n{proc.stderr[-3000:]}")
    probe = "import evidently; print(evidently.__version__)"
    version = run_child([str(python), "-c", probe], evidently_env()).strip()
    if version != EVIDENTLY_VERSION:
        raise BenchError(f"{venv} has evidently {version}, not {EVIDENTLY_VERSION}")
    return python


def evidently_size(python: Path, directory: Path, rows: int, repeat: int) -> dict[str, Any]:
    log(f"evidently at {rows:,} rows (best of {repeat})")
    script = directory / "evidently_drift.py"
    script.write_text(EVIDENTLY_SCRIPT)
    files = [str(directory / f"{name}-{rows}.parquet") for name in ("reference", "current")]
    start = time.perf_counter()
    out = run_child([str(python), str(script), *files, str(repeat)], evidently_env())
    process_s = time.perf_counter() - start
    result = json.loads(out.strip().splitlines()[-1])
    return {
        "version": EVIDENTLY_VERSION,
        "rows": rows,
        "seconds": round(result["seconds"], 3),
        "process_s": round(process_s, 1),
        "flagged": result["flagged"],
        "methods": result["methods"],
    }


# --- main --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small-rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--compare", choices=["evidently"], default=None)
    parser.add_argument("--evidently-rows", type=int, default=None, help="default: --small-rows")
    parser.add_argument("--evidently-repeat", type=int, default=1)
    parser.add_argument("--evidently-venv", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--heads", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate:
        generate(args.generate, args.rows, [int(n) for n in args.heads.split(",") if n])
        return 0
    if args.measure:
        print(json.dumps(measure(args.measure, args.rows, args.repeat)), flush=True)
        return 0

    small = min(args.small_rows, args.rows)
    ev_rows = args.evidently_rows or small
    if ev_rows > args.rows:
        parser.error("--evidently-rows cannot be more than --rows: it runs on their first rows")
    base = Path(tempfile.mkdtemp(prefix="bench-drift-", dir=args.dir))
    try:
        python = None
        if args.compare == "evidently":
            python = install_evidently(args.evidently_venv or base / "evidently-venv")
        log(f"generating {args.rows:,} + {args.rows:,} rows into {base}")
        heads = ",".join(map(str, {small, ev_rows}))
        generate_cmd = [sys.executable, __file__, "--generate", str(base), "--rows"]
        run_child([*generate_cmd, str(args.rows), "--heads", heads])
        large = monoloop_size(base, args.rows, args.repeat)
        sizes = [large] + ([monoloop_size(base, small, args.repeat)] if small < args.rows else [])
        report: dict[str, Any] = {
            "bench": "drift",
            "columns": {"numeric": NUMERIC, "categorical": len(CATEGORIES)},
            "planted": planted(),
            "monoloop": {str(s["rows"]): s for s in sizes},
            "targets": {
                "compare_s": {
                    "limit_s": COMPARE_TARGET_S,
                    "met": large["compare_s"] <= COMPARE_TARGET_S,
                },
                "flags": {
                    "met": all(s["planted_found"] and len(s["false_alarms"]) <= 1 for s in sizes)
                },
                "peak_memory": {
                    "limit_ratio": PEAK_TARGET_RATIO,
                    "met": large["peak_rss_ratio"] < PEAK_TARGET_RATIO
                    and large["peak_traced_ratio"] < PEAK_TARGET_RATIO,
                },
            },
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        }
        if python is not None:
            ev = evidently_size(python, base, ev_rows, args.evidently_repeat)
            report["evidently"] = ev
            mono = next((s for s in sizes if s["rows"] == ev_rows), None)
            if mono is None:
                mono = monoloop_size(base, ev_rows, args.repeat)
            same = round(ev["seconds"] / mono["compare_s"], 1)
            vs_1m = (
                round(EVIDENTLY_1M_S / large["compare_s"], 1) if args.rows == 1_000_000 else None
            )
            report["evidently_over_monoloop"] = {
                "rows": ev_rows,
                "same_size": same,
                "evidently_1m_known_s": EVIDENTLY_1M_S,
                "vs_evidently_1m": vs_1m,
            }
            report["targets"]["vs_evidently"] = {
                "limit": TARGET_VS_EVIDENTLY,
                "met": same >= TARGET_VS_EVIDENTLY,
            }
            if vs_1m is not None:
                report["targets"]["vs_evidently_1m"] = {
                    "limit": TARGET_VS_EVIDENTLY_1M,
                    "met": vs_1m >= TARGET_VS_EVIDENTLY_1M,
                }
        print(json.dumps(report, sort_keys=True), flush=True)
        return 0
    except (BenchError, subprocess.TimeoutExpired) as exc:
        log(str(exc))
        return 1
    finally:
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

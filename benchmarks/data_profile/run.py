"""mlplat's data profile beside ydata-profiling: wall time, peak memory, and the same figures.

    .venv/bin/python benchmarks/data_profile/run.py --ydata-python /path/to/ydata-venv/bin/python
    (or MLPLAT_YDATA_PYTHON=...; without it only mlplat is measured)

Frames (make_frame.py, fixed seed): 100k x 20 and 1M x 20 (15 numeric with gaps and ties,
4 categorical, 1 datetime), and 100k x 200 (195 numeric). Each is written to Parquet; mlplat
profiles the frame read back in this process (median of --runs, tracemalloc for the peak of
one more run), and `mlplat data profile --input` runs end to end once per frame in a
subprocess; ydata-profiling runs in its own interpreter (ydata_side.py). The load average
is printed with every figure: the machine is shared. The last line is the ratio to
ydata-profiling's minimal mode at 1M rows.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from make_frame import make_frame  # noqa: E402

from mlplat.data.profile import profile_frame  # noqa: E402
from mlplat.data.report import to_html  # noqa: E402

SCENARIOS = [("100k x 20", 100_000, 0), ("1M x 20", 1_000_000, 0), ("100k x 200", 100_000, 180)]


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def median_time(fn, runs: int) -> tuple[float, list[float], float]:
    """(median wall seconds, every run's wall seconds, median CPU seconds of the process: all threads)."""
    times, cpus = [], []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(times), times, statistics.median(cpus)


def mlplat_side(path: Path, runs: int) -> dict:
    df = pd.read_parquet(path)
    frame_bytes = int(df.memory_usage(deep=True, index=False).sum())
    profile_frame(df.head(2000))  # imports and first-call costs out of the timing
    la0 = load()
    med, times, cpu = median_time(lambda: profile_frame(df), runs)
    tracemalloc.start()
    profile = profile_frame(df)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    t0 = time.perf_counter()
    page = to_html(profile, title="bench", source=str(path))
    html_s = time.perf_counter() - t0
    return {"seconds": med, "times": times, "cpu_seconds": cpu, "load": f"{la0} -> {load()}", "frame_bytes": frame_bytes,
            "peak_extra_bytes": peak, "html_bytes": len(page.encode()), "html_seconds": html_s, "profile": profile}


def cli_side(path: Path, out: Path) -> dict:
    la0 = load()
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "mlplat.cli", "data", "profile", "--input",
                           str(path), "--output", str(out)], capture_output=True, text=True, cwd=REPO, timeout=600)
    seconds = time.perf_counter() - t0
    rss = next((int(line.split(":")[1]) for line in proc.stderr.splitlines() if "Maximum resident" in line), None)
    return {"seconds": seconds, "ok": proc.returncode == 0, "max_rss_kib": rss, "load": f"{la0} -> {load()}",
            "error": None if proc.returncode == 0 else proc.stderr[-500:]}


def end_to_end(path: Path, tmp: Path) -> list[dict]:
    """The four `mlplat data` commands and the bot's `profile` command on the generated file, in a scratch project."""
    import shutil

    root = tmp / "project"
    shutil.copytree(REPO / "conf", root / "conf")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLPLAT_", "HYDRA_"))}
    env.update(MLPLAT_CONF_DIR=str(root / "conf"), MLPLAT_STORE_URL=f"sqlite:///{root / 'runs' / 'mlplat.db'}",
               MLPLAT_ARTIFACTS=str(root / "runs" / "artifacts"), PYTHONPATH=str(REPO))
    shifted = tmp / "shifted.parquet"
    df = pd.read_parquet(path)
    lo, hi = df["num_03"].min(), df["num_03"].max()
    df["num_03"] = (df["num_03"] * 1.5).clip(lo, hi)  # drifted, inside the inferred range: compare says drift
    df.to_parquet(shifted)
    del df
    steps = [
        ("infer", ["data", "infer", str(path), "--target", "num_05", "--name", "bench1m"]),
        ("profile --input", ["data", "profile", "--input", str(path), "--target", "num_05", "--output",
                             str(tmp / "p.html")]),
        ("profile dataset=", ["data", "profile", "dataset=bench1m", "--format", "json", "--output",
                              str(tmp / "p.json")]),
        ("validate", ["data", "validate", "dataset=bench1m", "--current", str(path)]),
        ("compare", ["data", "compare", "dataset=bench1m", "--current", str(shifted), "--format", "json",
                     "--output", str(tmp / "c.json")]),
        ("chat: profile", ["chat", "--as", "UBENCH", "-c", "profile bench1m"]),
    ]
    out = []
    for label, args in steps:
        la0, t0 = load(), time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "mlplat.cli", *args], cwd=root, env=env, capture_output=True,
                              text=True, timeout=900)
        out.append({"step": label, "seconds": time.perf_counter() - t0, "exit": proc.returncode,
                    "load": f"{la0} -> {load()}", "tail": (proc.stdout + proc.stderr).strip().splitlines()[-1:]})
    status = json.loads((tmp / "c.json").read_text())["status"] if (tmp / "c.json").is_file() else None
    out.append({"step": "compare status", "value": status})
    return out


def ydata_side(python: str, path: Path, mode: str, runs: int, timeout: float) -> dict:
    times, cpus, last, la0 = [], [], {}, load()
    for _ in range(runs):
        out = path.with_suffix(f".{mode}.json")
        try:
            subprocess.run([python, str(HERE / "ydata_side.py"), str(path), mode, str(out)], check=True,
                           capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"seconds": None, "times": times, "timeout": timeout, "load": f"{la0} -> {load()}"}
        last = json.loads(out.read_text())
        times.append(last["seconds"])
        cpus.append(last["cpu_seconds"])
    return {**last, "seconds": statistics.median(times), "times": times, "cpu_seconds": statistics.median(cpus),
            "load": f"{la0} -> {load()}"}


def compare_figures(mine: dict, theirs: dict, df_path: Path) -> dict:
    """Largest absolute difference per figure, over the columns both tools describe the same way."""
    diffs: dict[str, float] = {}

    def track(key: str, a, b) -> None:
        if a is None or b is None:
            return
        diffs[key] = max(diffs.get(key, 0.0), abs(float(a) - float(b)))

    for name, v in theirs["variables"].items():
        col = mine["columns"].get(name)
        if col is None:
            continue
        track("n_missing", col["n_missing"], v.get("n_missing"))
        track("missing share", col["missing_share"], v.get("p_missing"))
        track("distinct count", col["n_distinct"], v.get("n_distinct"))
        if "mean" in col and "mean" in v:
            track("mean (relative)", 0.0, (col["mean"] - v["mean"]) / (abs(v["mean"]) or 1.0))
            track("std (relative)", 0.0, (col["std"] - v["std"]) / (abs(v["std"]) or 1.0))
            track("min/max", col["min"], v.get("min"))
            track("min/max", col["max"], v.get("max"))
            for q in ("5%", "25%", "50%", "75%", "95%"):
                track("quantiles", col["quantiles"][q], v.get(q))
    df = pd.read_parquet(df_path)
    for measure in ("pearson", "spearman"):
        t = theirs["correlations"].get(measure)
        m = mine["associations"].get(measure)
        if not t or not m:
            continue
        cols = [c for c in t["columns"] if c in m["columns"]]
        ti = [t["columns"].index(c) for c in cols]
        mi = [m["columns"].index(c) for c in cols]
        a = np.array(m["matrix"], dtype=float)[np.ix_(mi, mi)]
        b = np.array(t["matrix"], dtype=float)[np.ix_(ti, ti)]
        if measure == "spearman":
            complete = np.array([bool(df[c].notna().all()) for c in cols])
            both = np.outer(complete, complete)
            diffs["spearman, pairs without gaps"] = float(np.nanmax(np.abs(a - b)[both]))
            diffs["spearman, pairs with gaps (definitions differ)"] = float(np.nanmax(np.abs(a - b)[~both]))
        else:
            diffs[measure] = float(np.nanmax(np.abs(a - b)))
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ydata-python", default=os.environ.get("MLPLAT_YDATA_PYTHON"),
                    help="python of a venv with ydata-profiling 4.18.4 and pyarrow (or MLPLAT_YDATA_PYTHON)")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per measurement (the median is reported)")
    ap.add_argument("--ydata-default-runs", type=int, default=1,
                    help="runs of ydata-profiling's default mode (minutes each at 1M rows; 0 skips it)")
    ap.add_argument("--ydata-timeout", type=float, default=3600)
    ap.add_argument("--only", choices=[s[0] for s in SCENARIOS], action="append")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="mlplat-data-bench-") as tmp:
        for label, n, extra in SCENARIOS:
            if args.only and label not in args.only:
                continue
            path = Path(tmp) / f"frame-{n}-{extra}.parquet"
            make_frame(n, seed=0, extra_numeric=extra).to_parquet(path)
            row = {"scenario": label, "mlplat": mlplat_side(path, args.runs),
                   "cli": cli_side(path, Path(tmp) / "out.html")}
            m = row["mlplat"]
            print(f"[{label}] mlplat profile {m['seconds']:.3f} s wall, {m['cpu_seconds']:.3f} s CPU (median of "
                  f"{args.runs}: {', '.join(f'{t:.3f}' for t in m['times'])}; load {m['load']}); peak extra memory "
                  f"{m['peak_extra_bytes'] / 2**20:.0f} MiB on a {m['frame_bytes'] / 2**20:.0f} MiB frame "
                  f"(total {1 + m['peak_extra_bytes'] / m['frame_bytes']:.2f}x); HTML {m['html_bytes'] / 2**10:.0f} KiB "
                  f"in {m['html_seconds']:.2f} s", flush=True)
            c = row["cli"]
            print(f"[{label}] `mlplat data profile --input` end to end {c['seconds']:.2f} s (read, profile, HTML; "
                  f"max RSS {(c['max_rss_kib'] or 0) / 1024:.0f} MiB; load {c['load']}){'' if c['ok'] else ' FAILED'}",
                  flush=True)
            if n >= 1_000_000:
                row["end_to_end"] = end_to_end(path, Path(tmp))
                for step in row["end_to_end"]:
                    if "seconds" in step:
                        print(f"[{label}] end to end `{step['step']}`: exit {step['exit']}, {step['seconds']:.2f} s "
                              f"(load {step['load']}): {' '.join(step['tail'])[:160]}", flush=True)
                    else:
                        print(f"[{label}] {step['step']}: {step['value']}", flush=True)
            if args.ydata_python:
                for mode, runs in (("minimal", args.runs), ("default", args.ydata_default_runs)):
                    if runs < 1:  # --ydata-default-runs 0: minimal mode only (default takes minutes a run)
                        continue
                    y = ydata_side(args.ydata_python, path, mode, runs, args.ydata_timeout)
                    row[f"ydata_{mode}"] = y
                    if y["seconds"] is None:
                        print(f"[{label}] ydata-profiling {mode}: no result within {y['timeout']:.0f} s", flush=True)
                        continue
                    print(f"[{label}] ydata-profiling {y['version']} {mode}: {y['seconds']:.2f} s wall, "
                          f"{y['cpu_seconds']:.2f} s CPU (median of {len(y['times'])}; load {y['load']}); ratio "
                          f"{y['seconds'] / m['seconds']:.1f}x wall, {y['cpu_seconds'] / m['cpu_seconds']:.1f}x CPU",
                          flush=True)
                if label == "100k x 20":
                    fig = ydata_side(args.ydata_python, path, "figures", 1, args.ydata_timeout)
                    row["figures"] = compare_figures(m["profile"], fig, path)
                    for key, value in row["figures"].items():
                        print(f"[{label}] largest |difference| {key}: {value:.3g}", flush=True)
            for part in ("mlplat",):
                row[part].pop("profile", None)
            results.append(row)
    (HERE / "last_run.json").write_text(json.dumps(results, indent=1, default=str))
    big = next((r for r in results if r["scenario"] == "1M x 20"), None)
    if big and big.get("ydata_minimal", {}).get("seconds"):
        print(f"1M x 20: mlplat {big['mlplat']['seconds']:.2f} s vs ydata-profiling minimal "
              f"{big['ydata_minimal']['seconds']:.1f} s: {big['ydata_minimal']['seconds'] / big['mlplat']['seconds']:.0f}x "
              "faster")
    elif big:
        print(f"1M x 20: mlplat {big['mlplat']['seconds']:.2f} s (no ydata-profiling given)")


if __name__ == "__main__":
    main()

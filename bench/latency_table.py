"""Benchmark for issues 4 and 13: build latency tables of the default space at the settings users
deploy, and validate each on fresh candidates measured end to end.

One command (run it on a quiet machine: nothing else on the cores)::

    PYTHONPATH=. .venv/bin/python bench/latency_table.py            # threads {1,2} x batch {1,8,32}
    PYTHONPATH=. .venv/bin/python bench/latency_table.py --threads 2 --batch 8      # one setting
    PYTHONPATH=. .venv/bin/python bench/latency_table.py --device cuda --batch 1,256  # on a GPU

Each setting is ``codesign latency build --device D --threads T --batch B --out TABLE`` followed
by ``codesign latency validate TABLE --samples 100``, timed.  Writes the tables
(``bench/latency_cpu_table.json`` for 1 thread batch 1, ``bench/latency_<device>_t<T>_b<B>_table.json``
for the others), one scatter plot per table (``..._validate.png``), the figures
(``bench/latency_table.json``, one entry per table) and the results table in ``bench/LATENCY.md``
(between its ``latency_table.py`` markers).  Targets: each build <= 600 s on 2 cores; >= 95 %
(aim 99 %) of >= 100 fresh candidates within +-10 % of their measured latency at every setting.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ABLATION_FLAGS = ""  # set by main(): the protocol flags given, so each row's command is complete
BEGIN = "<!-- latency_table.py: results begin (generated; edit the script, not this block) -->"
END = "<!-- latency_table.py: results end -->"


def load_avg() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def int_list(text: str) -> list[int]:
    try:
        out = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}")
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"expected integers >= 1, got {text!r}")
    return out


def stem_of(device: str, runtime: str, threads: int, batch: int, default_runtime: str) -> str:
    stem = f"latency_{device}" + ("" if runtime == default_runtime else f"_{runtime}")
    if device == "cuda":
        return f"{stem}_b{batch}"
    return stem if (threads, batch) == (1, 1) else f"{stem}_t{threads}_b{batch}"


def run_setting(space, device: str, runtime: str, threads: int, batch: int, samples: int,
                progress: bool, default_runtime: str, protocol=None, tag: str = "") -> dict:
    from codesign.io import atomic_write_json
    from codesign.latency import Protocol, build_table, plot_validation, validate_table

    stem = stem_of(device, runtime, threads, batch, default_runtime) + tag
    load_before = load_avg()
    t0 = time.perf_counter()
    table = build_table(space, device, runtime, threads, batch, protocol or Protocol(),
                        progress=progress)
    build_s = time.perf_counter() - t0
    table_path = ROOT / "bench" / f"{stem}_table.json"
    atomic_write_json(table_path, table.to_dict())
    load_mid = load_avg()
    t0 = time.perf_counter()
    res = validate_table(table, space, samples, seed=2, progress=progress)
    validate_s = time.perf_counter() - t0
    plot_validation(ROOT / "bench" / f"{stem}_validate.png", res)
    o = table.overhead
    return {
        "date": time.strftime("%Y-%m-%d"),
        "command": (f"PYTHONPATH=. .venv/bin/python bench/latency_table.py --device {device}"
                    f"{'' if runtime == default_runtime else f' --runtime {runtime}'}"
                    f" --threads {threads} --batch {batch} --samples {samples}{ABLATION_FLAGS}"),
        "tag": tag,
        "target": table.describe_target(), "machine": table.machine,
        "threads": threads, "batch": batch, "statistic": table.statistic,
        "space": "cnv (1x28x28, default)", "ops_measured": table.build["ops_measured"],
        "build_s": round(build_s, 1), "protocol": table.protocol,
        "build_state": table.build.get("state"),
        "overhead_fit": {k: o.get(k) for k in ("form", "alpha_ms", "beta", "beta_by_kind",
                                               "gamma_ms", "n", "mape_fit", "mape_loo",
                                               "mape_loo_by_form")},
        "validation": {k: res[k] for k in ("samples", "seed", "mape", "share_within_10pct",
                                           "share_within_5pct", "max_abs_rel_error",
                                           "networks_degraded",
                                           "share_within_10pct_normal_state", "repeatability",
                                           "state")},
        "validate_s": round(validate_s, 1),
        "measured_ms_range": [min(r["measured_ms"] for r in res["rows"]),
                              max(r["measured_ms"] for r in res["rows"])],
        "load_average_1_5_15": {"before": load_before, "after_build": load_mid,
                                "after_validate": load_avg()},
        "table": str(table_path.relative_to(ROOT)), "plot": f"bench/{stem}_validate.png",
    }


def markdown(figs: dict) -> str:
    head = ("| target | statistic | build (s) | correction (LOO MAPE) | candidates | within +-10 % "
            "| MAPE | worst | halves agree +-10 % | degraded probe readings (build / validate) |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    order = sorted(figs.values(), key=lambda f: (f.get("tag", ""), f["machine"]["device_kind"],
                                                 f["threads"], f["batch"]))
    for f in order:
        v, o = f["validation"], f["overhead_fit"]
        rep = v.get("repeatability") or {}
        bs = (f.get("build_state") or {}).get("share_degraded_readings")
        vs = (v.get("state") or {}).get("share_degraded_readings")
        pct = (lambda x: "-" if x is None else f"{100 * x:.0f} %")
        proto = f["protocol"]
        how = "" if not f.get("tag") else (
            f" ({'no probe' if not proto.get('probe', True) else 'probe'}, keep-awake "
            f"{'on' if proto.get('keep_awake') else 'off'}; `{f['tag']}`)")
        lines.append(
            f"| {f['machine']['device_kind']}, {f['threads']} thread(s), batch {f['batch']}{how} | "
            f"{f.get('statistic', 'median')} | {f['build_s']:.0f} | {o['form']} "
            f"({100 * o['mape_loo']:.1f} %) | {v['samples']} | "
            f"**{100 * v['share_within_10pct']:.0f} %** | {100 * v['mape']:.1f} % | "
            f"{100 * v['max_abs_rel_error']:.0f} % | {pct(rep.get('share_halves_within_10pct'))} | "
            f"{pct(bs)} / {pct(vs)} |")
    dates = sorted({f["date"] for f in figs.values()})
    cpus = sorted({f["machine"].get("gpu_name") or f["machine"].get("cpu_model")
                   for f in figs.values()})
    return (f"Machine: {', '.join(cpus)}; dates: {', '.join(dates)}. Each row is one "
            "`bench/latency_table.py` setting (its command is in `bench/latency_table.json`).\n\n"
            + head + "\n".join(lines) + "\n")


def write_markdown(figs: dict) -> None:
    from codesign.io import atomic_write_text

    path = ROOT / "bench" / "LATENCY.md"
    text = path.read_text() if path.is_file() else "# Latency tables\n"
    block = f"{BEGIN}\n{markdown(figs)}{END}"
    if BEGIN in text and END in text:
        a, b = text.index(BEGIN), text.index(END) + len(END)
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    atomic_write_text(path, text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--runtime", default=None, choices=("onnxruntime", "torch"))
    ap.add_argument("--threads", type=int_list, default=None,
                    help="thread counts, comma-separated (default 1,2 on cpu)")
    ap.add_argument("--batch", type=int_list, default=None,
                    help="batch sizes, comma-separated (default 1,8,32 on cpu, 1,256 on cuda)")
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--no-progress", action="store_true")
    # protocol ablations (the defaults are the protocol the tables ship with); an ablated run is
    # written under its own --tag and shown in its own rows
    ap.add_argument("--statistic", default=None, choices=("p10", "median", "p5", "min"))
    ap.add_argument("--no-probe", action="store_true", help="no machine-state probe")
    ap.add_argument("--keep-awake", default=None, choices=("on", "off"),
                    help="default: on with more than one thread")
    ap.add_argument("--calibration", type=int, default=None)
    ap.add_argument("--tag", default="", help="suffix of the files and rows of this run, e.g. "
                    "_issue4 (required with an ablation flag)")
    args = ap.parse_args()
    ablation = {}
    if args.statistic:
        ablation["statistic"] = args.statistic
    if args.no_probe:
        ablation["probe"] = False
    if args.keep_awake:
        ablation["keep_awake"] = args.keep_awake == "on"
    if args.calibration:
        ablation["calibration"] = args.calibration
    if ablation and not args.tag:
        ap.error("an ablation flag needs --tag (so the shipped tables are not overwritten)")
    global ABLATION_FLAGS
    ABLATION_FLAGS = "".join(
        f" --{k.replace('_', '-')} {v}" for k, v in (("statistic", args.statistic),
                                                      ("keep_awake", args.keep_awake),
                                                      ("calibration", args.calibration),
                                                      ("tag", args.tag)) if v) + (
        " --no-probe" if args.no_probe else "")

    from codesign.io import atomic_write_json
    from codesign.latency import DEFAULT_RUNTIME, Protocol, check_runtime
    from codesign.spaces.base import get_space
    from fpga.errors import InputError

    runtime = args.runtime or DEFAULT_RUNTIME[args.device]
    try:
        check_runtime(args.device, runtime)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    threads = args.threads or ([1, 2] if args.device == "cpu" else [1])
    batches = args.batch or ([1, 8, 32] if args.device == "cpu" else [1, 256])
    space = get_space("cnv")
    out = ROOT / "bench" / "latency_table.json"
    allfig = json.loads(out.read_text()) if out.is_file() else {}
    for t in threads:
        for b in batches:
            fig = run_setting(space, args.device, runtime, t, b, args.samples,
                              not args.no_progress, DEFAULT_RUNTIME[args.device],
                              Protocol(**ablation), args.tag)
            stem = Path(fig["table"]).name.removesuffix("_table.json").removeprefix("latency_")
            allfig[stem] = fig
            atomic_write_json(out, allfig)  # after every setting: a long run keeps what it did
            v = fig["validation"]
            print(f"{fig['target']}: build {fig['build_s']:.0f} s, validate "
                  f"{fig['validate_s']:.0f} s, {100 * v['share_within_10pct']:.0f} % of "
                  f"{v['samples']} within +-10 %, MAPE {100 * v['mape']:.1f} %", flush=True)
    current = {k: f for k, f in allfig.items() if "threads" in f}  # entries of this protocol
    write_markdown(current)
    print(markdown(current))
    print(f"wrote {out.relative_to(ROOT)} and bench/LATENCY.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

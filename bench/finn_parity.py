"""Our FINN view against finn-plus's own estimate, node by node, at every bit width (issue 11).

For each network below (public topologies: FINN/BNN-PYNQ's TFC, LFC and CNV at W1A1, W1A2,
W2A2, W4A4 and with 8-bit first/last layers, designs of this toolkit's own search spaces, a
parallel-window first convolution and a depthwise network), the script

1. builds the network with Brevitas (random weights, random BN statistics) and exports QONNX
   and FINN's build files (``bench/finn_check.py prepare``, product venv);
2. runs FINN's estimate-only build on it (``bench/finn_check.py check``, in ``.venv-finn``);
3. prices the same network with ``FinnCostModel.finn_view`` (the dataflow nodes, no FIFOs or
   converters, no I/O cap: what FINN's estimate covers) and compares every node: cycles,
   LUT, BRAM18, DSP.  For MVAU/VVAU nodes it also prices the node with the data types FINN
   estimated with (FINN narrows accumulators and weights from the trained values before its
   estimate, ``step_minimize_bit_width``): equal LUTs then show the formula is FINN's, and the
   remaining difference of the plain view is the narrowing, which no model can know before
   training.

Writes ``bench/finn_parity.json`` (every node, FINN and ours) and prints a table; the pinned
FINN figures in ``tests/hw_models/test_finn_parity.py`` are read from that file.  Run::

    .venv/bin/python bench/finn_parity.py [--only NAME ...] [--jobs 2]

Needs ``.venv-finn`` (``scripts/test.sh`` or ``shared/reference/environment.md``).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

OUT = REPO / "out" / "finn_parity"
RESULT = REPO / "bench" / "finn_parity.json"
FINN_PY = REPO / ".venv-finn" / "bin" / "python"


def _mlp(name: str, widths: list[int], w: int, a: int, folding: list[tuple[int, int]],
         first_w: int | None = None, last_w: int | None = None) -> dict[str, Any]:
    layers = []
    for i, (out, (pe, simd)) in enumerate(zip(widths, folding)):
        last = i == len(widths) - 1
        wb = first_w if (i == 0 and first_w) else last_w if (last and last_w) else w
        layers.append({"name": f"fc{i}", "op": "fc", "out_features": out, "weight_bits": wb,
                       "act_bits": None if last else a, "pe": pe, "simd": simd})
    return {"name": name, "input": {"channels": 1, "height": 28, "width": 28, "bits": 8,
                                    "thresholding": True}, "layers": layers}


#: BNN-PYNQ's CNV topology (3x3 unpadded convs, two 2x2 pools, three fc) and its folding
#: (``bnn/src/network/cnvW1A1/hw/config.h``: L0..L8 SIMD/PE; the last layer's 10 outputs,
#: which BNN-PYNQ pads to 16 for PE 4, get PE 5)
_CNV_FOLD = [(16, 3), (32, 32), (16, 32), (16, 32), (4, 32), (1, 32), (1, 4), (1, 8), (5, 1)]


def _cnv(name: str, w: int, a: int, first_w: int | None = None, last_w: int | None = None,
         fold: list[tuple[int, int]] | None = None) -> dict[str, Any]:
    fold = fold or _CNV_FOLD
    spec = [("conv", 64), ("conv", 64), ("pool", 0), ("conv", 128), ("conv", 128), ("pool", 0),
            ("conv", 256), ("conv", 256), ("fc", 512), ("fc", 512), ("fc", 10)]
    layers, k = [], 0
    n_compute = sum(op != "pool" for op, _ in spec)
    for op, out in spec:
        if op == "pool":
            layers.append({"name": f"pool{len(layers)}", "op": "maxpool", "kernel": 2})
            continue
        pe, simd = fold[k]
        last = k == n_compute - 1
        wb = first_w if (k == 0 and first_w) else last_w if (last and last_w) else w
        entry = {"name": f"{op}{k}", "op": op, "weight_bits": wb,
                 "act_bits": None if last else a, "pe": pe, "simd": simd}
        if op == "conv":
            entry.update(out_channels=out, kernel=3)
        else:
            entry["out_features"] = out
        layers.append(entry)
        k += 1
    return {"name": name, "input": {"channels": 3, "height": 32, "width": 32, "bits": 8,
                                    "thresholding": True}, "layers": layers}


_TFC_FOLD = [(16, 49), (8, 8), (8, 8), (10, 8)]
_LFC_FOLD = [(32, 49), (64, 32), (32, 64), (10, 8)]


def _space_designs() -> dict[str, dict[str, Any]]:
    """Seeds of the default search spaces, folded for a frame rate (what a search exports)."""
    import codesign.spaces.cnv  # noqa: F401 (registers the spaces)
    import codesign.spaces.cnv_l  # noqa: F401
    from codesign.spaces.base import get_space
    from hw_models.cost import FinnCostModel
    from hw_models.folding import fold_for_fps

    out = {}
    model = FinnCostModel("pynq-z1")
    for space_name, shape, classes, fps in (("cnv", (1, 28, 28), 10, 2000),
                                           ("cnv-l", (3, 32, 32), 10, 500)):
        space = get_space(space_name, input_shape=shape, num_classes=classes)
        for i, seed in enumerate(space.seeds()[:2]):
            spec = fold_for_fps(space.describe(seed), model, fps)
            d = spec.to_dict()
            d["name"] = f"space_{space_name}_seed{i}"
            out[d["name"]] = d
    return out


def _parallel_window() -> dict[str, Any]:
    """Fashion-MNIST-sized network whose first conv reads whole 3x3 windows (SIMD 9 = K*K*C)."""
    return {"name": "pw_first_conv", "input": {"channels": 1, "height": 28, "width": 28,
                                               "bits": 8, "thresholding": True},
            "layers": [
                {"name": "conv0", "op": "conv", "out_channels": 16, "kernel": 3, "padding": 1,
                 "weight_bits": 4, "act_bits": 4, "pe": 16, "simd": 9},
                {"name": "pool0", "op": "maxpool", "kernel": 2},
                {"name": "conv1", "op": "conv", "out_channels": 16, "kernel": 3, "padding": 1,
                 "weight_bits": 4, "act_bits": 4, "pe": 16, "simd": 48},
                {"name": "pool1", "op": "maxpool", "kernel": 2},
                {"name": "fc0", "op": "fc", "out_features": 10, "weight_bits": 4,
                 "act_bits": None, "pe": 10, "simd": 49}]}


def cases() -> dict[str, dict[str, Any]]:
    out = {
        "tfc_w1a1": _mlp("tfc_w1a1", [64, 64, 64, 10], 1, 1, _TFC_FOLD, last_w=2),
        "tfc_w1a2": _mlp("tfc_w1a2", [64, 64, 64, 10], 1, 2, _TFC_FOLD, last_w=2),
        "tfc_w2a2": _mlp("tfc_w2a2", [64, 64, 64, 10], 2, 2, _TFC_FOLD),
        "tfc_w4a4": _mlp("tfc_w4a4", [64, 64, 64, 10], 4, 4, _TFC_FOLD),
        "lfc_w1a1": _mlp("lfc_w1a1", [1024, 1024, 1024, 10], 1, 1, _LFC_FOLD, last_w=2),
        "lfc_w1a2": _mlp("lfc_w1a2", [1024, 1024, 1024, 10], 1, 2, _LFC_FOLD, last_w=2),
        "cnv_w1a1": _cnv("cnv_w1a1", 1, 1, first_w=8, last_w=2),
        "cnv_w1a2": _cnv("cnv_w1a2", 1, 2, first_w=8, last_w=2),
        "cnv_w2a2": _cnv("cnv_w2a2", 2, 2, first_w=8, last_w=8),
        "cnv_w4a4": _cnv("cnv_w4a4", 4, 4),
        "cnv_w8_first_last_w4a4": _cnv("cnv_w8_first_last_w4a4", 4, 4, first_w=8, last_w=8),
        "pw_first_conv": _parallel_window(),
    }
    dw = json.loads((REPO / "examples" / "finn_check_dwconv.json").read_text())
    out["dwconv"] = dw
    out.update(_space_designs())
    return out


# ---------------------------------------------------------------------------- run
def _prepare(name: str, net: dict[str, Any]) -> Path:
    d = OUT / name
    d.mkdir(parents=True, exist_ok=True)
    (d / "in.json").write_text(json.dumps(net, indent=2) + "\n")
    r = subprocess.run([sys.executable, str(REPO / "bench" / "finn_check.py"), "prepare",
                        "--network", str(d / "in.json"), "--out", str(d)],
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"prepare {name}: {r.stderr.strip().splitlines()[-1]}")
    return d


def _finn(d: Path) -> dict[str, Any]:
    r = subprocess.run([str(FINN_PY), str(REPO / "bench" / "finn_check.py"), "check",
                        "--bundle", str(d)], capture_output=True, text=True)
    summary = d / "finn_check.json"
    if not summary.is_file():
        raise RuntimeError(f"FINN check of {d} wrote no summary:\n{r.stdout[-2000:]}"
                           f"{r.stderr[-2000:]}")
    s = json.loads(summary.read_text())
    if not s.get("completed"):
        raise RuntimeError(f"FINN's build of {d} did not complete: {s.get('problems')}")
    return s


_DT = re.compile(r"^(U?INT|BIPOLAR|BINARY)(\d*)$")


def _bits(dt: str) -> tuple[int, bool]:
    """``(bits, signed)`` of a FINN data type name."""
    m = _DT.match(dt)
    if not m:
        raise ValueError(dt)
    kind, n = m.groups()
    if kind in ("BIPOLAR", "BINARY"):
        return 1, kind == "BIPOLAR"
    return int(n), kind == "INT"


def compare(name: str, net: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    import dataclasses

    from hw_models.cost import FinnCostModel, op_cost
    from hw_models.finn_build import finn_nodes
    from hw_models.network import NetworkSpec

    spec = NetworkSpec.from_dict(net)
    model = FinnCostModel.finn_view("pynq-z1", 100)
    ours = {n.name: n for n in model.lower(spec).nodes if not n.interconnect}
    assert [n.name for n in finn_nodes(spec)] == list(ours)
    rows = []
    for node in summary["nodes"]:
        mine = ours.get(node["name"])
        res = node["resources"] or {}
        row = {"node": node["name"], "layer": node.get("layer"),
               "finn": {"cycles": node["cycles"], "lut": res.get("LUT"),
                        "bram18": res.get("BRAM_18K"), "dsp": res.get("DSP"),
                        "datatypes": node.get("datatypes", {})}}
        if mine is None:
            row["ours"] = None
            rows.append(row)
            continue
        c = op_cost(mine.op)
        row["ours"] = {"cycles": c.cycles, "lut": c.lut, "bram18": c.bram18, "dsp": c.dsp,
                       "modelled": c.resources_modelled}
        dts = node.get("datatypes", {})
        if mine.finn_op in ("MVAU", "VVAU") and "accDataType" in dts:
            # the same node priced with the data types FINN estimated with
            w_bits, _ = _bits(dts["weightDataType"])
            a_bits, a_signed = _bits(dts["inputDataType"])
            acc, _ = _bits(dts["accDataType"])
            op = dataclasses.replace(mine.op, weight_bits=w_bits, in_bits=a_bits,
                                     in_signed=a_signed)
            narrowed = dataclasses.replace(op, acc_width=acc)
            row["ours_with_finn_types"] = {"lut": narrowed.lut(), "acc_bits": narrowed.acc_bits(),
                                           "acc_bound": op.acc_bits(), "weight_bits": w_bits,
                                           "in_bits": a_bits, "in_signed": a_signed}
        rows.append(row)
    finn_total = sum(r["finn"]["lut"] or 0 for r in rows)
    ours_total = sum((r["ours"] or {}).get("lut", 0) for r in rows)
    return {"name": name, "network": net, "nodes": rows, "finn_lut": finn_total,
            "ours_lut": ours_total, "finn_max_cycles":
                summary["network_performance"].get("max_cycles"),
            "finn_critical_path": summary["network_performance"].get("critical_path_cycles")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="case names (default: all)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(RESULT))
    args = ap.parse_args()
    if not FINN_PY.is_file():
        print(f"error: {FINN_PY} not found: create the FINN venv first "
              "(shared/reference/environment.md, or scripts/test.sh)", file=sys.stderr)
        return 2
    todo = cases()
    if args.only:
        unknown = sorted(set(args.only) - set(todo))
        if unknown:
            print(f"error: --only: unknown case(s) {unknown} (accepted: {sorted(todo)})",
                  file=sys.stderr)
            return 2
        todo = {k: todo[k] for k in args.only}
    dirs = {k: _prepare(k, v) for k, v in todo.items()}
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        summaries = dict(zip(dirs, pool.map(_finn, dirs.values())))
    results = [compare(k, todo[k], summaries[k]) for k in todo]
    old = {}
    if Path(args.out).is_file() and args.only:
        old = {r["name"]: r for r in json.loads(Path(args.out).read_text())["cases"]}
    for r in results:
        old[r["name"]] = r
    version = summaries[next(iter(summaries))].get("finn_plus_version")
    doc = {"date": datetime.date.today().isoformat(), "finn_plus_version": version,
           "part": "xc7z020clg400-1", "clock_mhz": 100.0,
           "command": ".venv/bin/python bench/finn_parity.py",
           "cases": [old[k] for k in sorted(old)]}
    tmp = Path(args.out).with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, args.out)
    print(f"{'case':<28}{'nodes':>6}{'cyc=':>6}{'bram=':>6}{'lut=':>6}{'lut= w/ FINN types':>20}"
          f"{'FINN LUT':>10}{'ours':>9}{'diff':>8}")
    for r in results:
        nodes = [n for n in r["nodes"] if n["ours"] is not None]
        eq = lambda k: sum(n["ours"][k] == n["finn"][k] for n in nodes)  # noqa: E731
        typed = [n for n in nodes if "ours_with_finn_types" in n]
        typed_eq = sum(n["ours_with_finn_types"]["lut"] == n["finn"]["lut"] for n in typed)
        diff = (r["ours_lut"] - r["finn_lut"]) / r["finn_lut"] * 100 if r["finn_lut"] else 0
        print(f"{r['name']:<28}{len(nodes):>6}{eq('cycles'):>6}{eq('bram18'):>6}{eq('lut'):>6}"
              f"{f'{typed_eq}/{len(typed)}':>20}{r['finn_lut']:>10,.0f}{r['ours_lut']:>9,}"
              f"{diff:>+7.1f}%")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Check an export against FINN itself: does FINN build it, and does it take our folding?

FINN (finn-plus) is the real consumer of ``model.qonnx.onnx`` and ``folding_config.json``.
Its pins cannot share an environment with the product's torch, so it lives in its own venv
(``python3 -m venv .venv-finn && .venv-finn/bin/pip install finn-plus psutil``) and this
script has two sub-commands, one per venv::

    # 1. in the product venv: build the model of a network (random weights are enough for a
    #    structure check), export QONNX, write FINN's folding config and the network JSON
    .venv/bin/python bench/finn_check.py prepare --preset example --out out/finn_check/example

    # 2. in the FINN venv: FINN's estimate-only build with our folding, then the checks
    .venv-finn/bin/python bench/finn_check.py check out/finn_check/example/model.qonnx.onnx \
        out/finn_check/example/folding_config.json \
        --network out/finn_check/example/network.json [--estimate estimate.json]

``check`` runs ``estimate_only_dataflow_steps`` without ``step_target_fps_parallelization``
and with ``folding_config_file``; Vivado's simulator is never needed
(``finn.xsi.SimEngine = object`` before importing the builder), and the
``XILINX_VIVADO must be set`` error FINN raises while writing its metadata at the very end
is caught (a build counts as complete only if the last step's model was written).  Then:

1. every node in FINN's dataflow partition (``step_apply_folding_config.onnx``) carries the
   PE/SIMD of our config under its own name (nodes without an entry fail the check; config
   entries FINN did not use are listed - our config carries alternates, see
   ``fpga/export/folding_config.py``); with ``--network``, FINN's node list must also be the
   one ``fpga.export.folding_config.finn_nodes`` predicts, in order;
2. no node other than the input ``Transpose`` stayed outside the dataflow partition;
3. FINN's per-node cycles and LUT/BRAM/DSP estimates are printed, next to ``codesign
   estimate --json`` figures when ``--estimate`` is given (matched by layer via ``--network``).

A JSON summary goes to ``<out>/finn_check.json`` (``--summary`` to change); exit status 0
when every check passed.  Not part of the test suite: FINN is not installed in CI.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

#: Networks used for the recorded check (bench/FINN_CHECK.md).
PRESETS: dict[str, dict[str, Any]] = {
    name: json.loads((Path(__file__).resolve().parents[1] / "examples" / f"finn_check_{name}.json")
                     .read_text())
    for name in ("example", "cifar_2bit")}

FOLD_ATTRS = ("PE", "SIMD")


# ====================================================================== prepare (product venv)
def prepare(args: argparse.Namespace) -> int:
    import torch

    from codesign.models.qcnn import build_qmodel
    from fpga.export import export_qonnx, write_folding_config
    from hw_models.network import NetworkSpec

    if args.preset:
        spec = NetworkSpec.from_dict(PRESETS[args.preset])
    else:
        spec = NetworkSpec.load(args.network)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    model = build_qmodel(spec).eval()
    with torch.no_grad():  # non-trivial BN statistics, so thresholds are not all alike
        for mod in model.modules():
            if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
    inp = spec.input
    export_qonnx(model, (inp.channels, inp.height, inp.width), out / "model.qonnx.onnx")
    write_folding_config(spec.layers, out / "folding_config.json")
    (out / "network.json").write_text(spec.to_json(indent=2) + "\n")
    print(f"wrote {out}/model.qonnx.onnx, folding_config.json, network.json")
    return 0


# ====================================================================== check (FINN venv)
def _run_finn(model: Path, folding: Path, build_dir: Path, fpga_part: str,
              clk_ns: float) -> dict[str, Any]:
    """FINN's estimate-only build with our folding; returns what happened."""
    os.environ.setdefault("FINN_BUILD_DIR", str((build_dir / "finn_tmp").resolve()))
    import finn.xsi

    finn.xsi.SimEngine = object  # the estimate steps never simulate; skip the Vivado check
    import finn.builder.build_dataflow as build
    import finn.builder.build_dataflow_config as build_cfg

    steps = [s for s in build_cfg.estimate_only_dataflow_steps
             if s != "step_target_fps_parallelization"]
    cfg = build_cfg.DataflowBuildConfig(
        output_dir=str(build_dir), synth_clk_period_ns=clk_ns, fpga_part=fpga_part,
        folding_config_file=folding.resolve(), steps=steps,
        generate_outputs=[build_cfg.DataflowOutputType.ESTIMATE_REPORTS])
    cfg = build_cfg.DataflowBuildConfig.construct_from(cfg)
    t0 = time.perf_counter()
    end_error = None
    rc = None
    try:
        rc = build.build_dataflow_cfg(str(model.resolve()), cfg)
    except Exception as exc:  # FINN's metadata writer wants Vivado's version on the way out
        if "XILINX_VIVADO" not in str(exc):
            raise
        end_error = " ".join(str(exc).split())
    finally:
        if type(sys.stdout).__name__ == "PrintLogger":  # FINN redirects print() to its log
            sys.stdout = sys.stdout.console
    last_step = build_dir / "intermediate_models" / f"{steps[-1]}.onnx"
    return {"steps": steps, "return_code": rc, "error_at_end": end_error,
            "completed": last_step.is_file(), "build_seconds": round(time.perf_counter() - t0, 2)}


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _decode(v: Any) -> Any:
    return v.decode() if isinstance(v, bytes) else v


def _layer_estimates(obj: Any, names: set[str]) -> dict[str, dict[str, Any]]:
    """Per-layer entries of a ``codesign estimate --json`` file, found by layer name."""
    if isinstance(obj, list):
        found = {}
        for item in obj:
            if isinstance(item, dict):
                key = item.get("name", item.get("layer"))
                if key in names:
                    found[key] = item
        if found:
            return found
    if isinstance(obj, dict):
        direct = {k: v for k, v in obj.items() if k in names and isinstance(v, dict)}
        if direct:
            return direct
        for v in obj.values():
            found = _layer_estimates(v, names)
            if found:
                return found
    return {}


def _base_op(op_type: str) -> str:
    """``MVAU_hls`` -> ``MVAU``: the op kind our cost model's stages are named by."""
    for suffix in ("_hls", "_rtl"):
        if op_type.endswith(suffix):
            return op_type[: -len(suffix)]
    return op_type


def _ours(stage: dict[str, Any], op: str | None = None) -> dict[str, Any]:
    return {"stage": op or stage.get("op"), "cycles": stage.get("cycles"),
            "lut": stage.get("lut"), "bram18": stage.get("bram18"), "dsp": stage.get("dsp")}


def _match_estimates(nodes: list[dict[str, Any]], est: dict[str, dict[str, Any]]) -> list[dict]:
    """Attach our per-stage figures to FINN's nodes; return our stages FINN has no node for.

    A layer's stages (``FMPadding``, ``ConvolutionInputGenerator``, ``MVAU``, ...) are matched
    to the layer's FINN nodes by op kind, in order; a layer without stages is matched whole
    to its MVAU or Pool node.
    """
    pending = {name: list(e.get("stages") or []) for name, e in est.items()}
    whole_done: set[str] = set()
    for n in nodes:
        layer = n.get("layer")
        if layer == "<input>" and est:  # the input Thresholding is priced with the first layer
            layer = next(iter(est))
        if layer not in est:
            continue
        stages = pending[layer]
        hit = next((st for st in stages if st.get("op") == _base_op(n["op_type"])), None)
        if hit is not None:
            stages.remove(hit)
            n["ours"] = _ours(hit)
        elif not est[layer].get("stages") and layer not in whole_done \
                and _base_op(n["op_type"]) in ("MVAU", "Pool"):
            n["ours"] = _ours(est[layer], op=est[layer].get("op"))
            whole_done.add(layer)
    return [dict(_ours(st), layer=layer) for layer, sts in pending.items() for st in sts]


def check(args: argparse.Namespace) -> int:
    from onnx import load as onnx_load

    model, folding = Path(args.model), Path(args.folding_config)
    build_dir = Path(args.out) if args.out else model.parent / "finn_build"
    if build_dir.exists():
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True)
    ours: dict[str, Any] = json.loads(folding.read_text())

    node_layer: dict[str, str] = {}
    predicted: list[tuple[str, ...]] = []  # per node: the name we expect and its alternates
    if args.network:
        from fpga.export.folding_config import finn_nodes
        from hw_models.network import NetworkSpec

        for n in finn_nodes(NetworkSpec.load(args.network).layers):
            predicted.append((n.name, *n.alternates))
            node_layer[n.name] = n.layer
            for alt in n.alternates:
                node_layer[alt] = n.layer

    run = _run_finn(model, folding, build_dir, args.fpga_part, args.clk_ns)
    summary: dict[str, Any] = {"model": str(model), "folding_config": str(folding),
                               "fpga_part": args.fpga_part, "clk_ns": args.clk_ns, **run}
    try:
        from importlib.metadata import version

        summary["finn_plus_version"] = version("finn-plus")
    except Exception:  # pragma: no cover
        pass
    problems: list[str] = []
    if not run["completed"]:
        log = build_dir / "build_dataflow.log"
        tail = log.read_text().splitlines()[-15:] if log.is_file() else []
        problems.append("FINN's build did not complete:\n    " + "\n    ".join(tail))
    else:
        report = build_dir / "report"
        inter = build_dir / "intermediate_models"
        parent = onnx_load(str(inter / "dataflow_parent.onnx"))
        outside = []
        graph_inputs = {i.name for i in parent.graph.input}
        for n in parent.graph.node:
            if n.op_type == "StreamingDataflowPartition":
                continue
            is_input_transpose = n.op_type in ("Transpose",) and n.input[0] in graph_inputs
            if not is_input_transpose:
                outside.append(f"{n.name} ({n.op_type})")
        summary["outside_partition"] = outside
        if outside:
            problems.append("nodes left outside the dataflow partition (FINN could not map "
                            "them to hardware): " + ", ".join(outside))

        folded = onnx_load(str(inter / "step_apply_folding_config.onnx"))
        cycles = json.loads((report / "estimate_layer_cycles.json").read_text())
        resources = json.loads((report / "estimate_layer_resources.json").read_text())
        perf = json.loads((report / "estimate_network_performance.json").read_text())
        applied_cfg_path = report / "applied_folding_config.json"
        applied_cfg = json.loads(applied_cfg_path.read_text()) if applied_cfg_path.is_file() else {}
        nodes = []
        for n in folded.graph.node:
            attrs = _attrs(n)
            applied = {k: attrs[k] for k in FOLD_ATTRS if k in attrs}
            expected = ours.get(n.name)
            entry: dict[str, Any] = {
                "name": n.name, "op_type": n.op_type, "layer": node_layer.get(n.name),
                "applied": applied, "applied_config": applied_cfg.get(n.name),
                "expected": ({k: expected[k] for k in FOLD_ATTRS if k in expected}
                             if expected else None),
                "cycles": cycles.get(n.name), "resources": resources.get(n.name)}
            if expected is None:
                entry["status"] = "not in our config"
                problems.append(f"{n.name}: FINN node has no entry in our folding config")
            else:
                bad = {k: (expected[k], _decode(attrs.get(k))) for k in expected
                       if k in attrs and _decode(attrs[k]) != expected[k]}
                missing = [k for k in FOLD_ATTRS if k in expected and k not in attrs]
                if bad or missing:
                    entry["status"] = "mismatch"
                    problems.append(f"{n.name}: applied differs from ours "
                                    f"(ours, FINN's) {bad}" + (f", no attribute {missing}"
                                                               if missing else ""))
                else:
                    entry["status"] = "ok"
            nodes.append(entry)
        if predicted:
            finn_names = [n["name"] for n in nodes]
            same = len(finn_names) == len(predicted) and all(
                name in names for name, names in zip(finn_names, predicted))
            summary["names_as_predicted"] = same
            if not same:
                problems.append("FINN's node list differs from fpga.export.finn_nodes' "
                                f"prediction:\n    FINN: {finn_names}\n    ours: "
                                f"{['|'.join(p) for p in predicted]}")
        node_names = {n["name"] for n in nodes}
        summary["nodes"] = nodes
        summary["unused_config_keys"] = [k for k in ours if k != "Defaults" and k not in node_names]
        summary["network_performance"] = perf
        summary["resources_total"] = resources.get("total")

        est_layers: dict[str, dict[str, Any]] = {}
        if args.estimate:
            est = json.loads(Path(args.estimate).read_text())
            est_layers = _layer_estimates(est, set(node_layer.values()))
            summary["estimate_file"] = args.estimate
            if not est_layers:
                summary["estimate_note"] = ("no per-layer entries found by layer name (pass "
                                            "--network, and check the file's format)")
            else:
                summary["ours_without_finn_node"] = _match_estimates(nodes, est_layers)
                for key in ("cycles_per_frame", "fps", "bottleneck", "totals"):
                    if key in est:
                        summary.setdefault("ours_network", {})[key] = est[key]
        _print_table(nodes, summary.get("ours_without_finn_node"), perf,
                     resources.get("total"), summary.get("ours_network"))

    summary["problems"] = problems
    summary["ok"] = not problems
    out_json = Path(args.summary) if args.summary else build_dir.parent / "finn_check.json"
    tmp = out_json.with_name(f".{out_json.name}.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    os.replace(tmp, out_json)
    print(f"\nFINN build: {run['build_seconds']} s, completed={run['completed']}; "
          f"summary: {out_json}")
    if summary.get("unused_config_keys"):
        print("config entries FINN did not use (alternates are expected here): "
              + ", ".join(summary["unused_config_keys"]))
    if problems:
        print("\nFAILED:\n  " + "\n  ".join(problems))
        return 1
    print("OK: every dataflow node took our PE/SIMD; only the input Transpose is on the host"
          + ("; node names as fpga.export predicts" if summary.get("names_as_predicted") else ""))
    return 0


def _print_table(nodes: list[dict[str, Any]], ours_extra: list[dict[str, Any]] | None,
                 perf: dict[str, Any], total: dict[str, Any] | None,
                 ours_net: dict[str, Any] | None) -> None:
    with_ours = ours_extra is not None
    head = (f"{'node':32s} {'layer':8s} {'PE':>3s} {'SIMD':>4s} {'status':6s} {'cycles':>8s} "
            f"{'LUT':>6s} {'BRAM18':>6s} {'DSP':>3s}")
    if with_ours:
        head += f" | {'ours: stage':26s} {'cycles':>8s} {'LUT':>6s} {'BRAM18':>6s}"
    print(head)
    print("-" * len(head))

    def ours_cols(o: dict[str, Any] | None) -> str:
        if not with_ours:
            return ""
        if not o:
            return " |"
        return (f" | {str(o['stage']):26s} {str(o['cycles']):>8s} {str(o['lut']):>6s} "
                f"{str(o['bram18']):>6s}")

    extra_by_layer: dict[str, list[dict[str, Any]]] = {}
    for o in ours_extra or []:
        extra_by_layer.setdefault(o["layer"], []).append(o)
    for i, n in enumerate(nodes):
        r = n["resources"] or {}
        print(f"{n['name']:32s} {str(n['layer'] or ''):8s} "
              f"{str(n['applied'].get('PE', '')):>3s} {str(n['applied'].get('SIMD', '')):>4s} "
              f"{n['status'][:6]:6s} {str(n['cycles']):>8s} {r.get('LUT', ''):>6} "
              f"{r.get('BRAM_18K', ''):>6} {r.get('DSP', ''):>3}" + ours_cols(n.get("ours")))
        last_of_layer = i + 1 == len(nodes) or nodes[i + 1]["layer"] != n["layer"]
        if last_of_layer:
            for o in extra_by_layer.pop(n["layer"], []):
                print(f"{'  (no FINN node)':32s} {str(n['layer']):8s} {'':>3s} {'':>4s} {'':6s} "
                      f"{'':>8s} {'':>6s} {'':>6s} {'':>3s}" + ours_cols(o))
    if total:
        line = (f"{'total':32s} {'':8s} {'':>3s} {'':>4s} {'':6s} {'':>8s} "
                f"{total.get('LUT', ''):>6} {total.get('BRAM_18K', ''):>6} {total.get('DSP', ''):>3}")
        if with_ours and ours_net and isinstance(ours_net.get("totals"), dict):
            t = ours_net["totals"]
            line += f" | {'':26s} {'':>8s} {str(t.get('lut')):>6s} {str(t.get('bram18')):>6s}"
        print(line)
    print(f"FINN: max_cycles {perf.get('max_cycles')} at {perf.get('max_cycles_node_name')}; "
          f"{perf.get('estimated_throughput_fps', 0):.1f} fps; "
          f"critical path {perf.get('critical_path_cycles')} cycles")
    if ours_net:
        print(f"ours: cycles_per_frame {ours_net.get('cycles_per_frame')} at "
              f"{ours_net.get('bottleneck')}; {float(ours_net.get('fps') or 0):.1f} fps")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare", help="(product venv) export QONNX + folding config")
    src = pp.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", choices=sorted(PRESETS))
    src.add_argument("--network", help="a network JSON file (the documented format)")
    pp.add_argument("--out", required=True, help="directory for the three files")
    pp.add_argument("--seed", type=int, default=0)
    pp.set_defaults(func=prepare)
    pc = sub.add_parser("check", help="(FINN venv) FINN estimate build + checks")
    pc.add_argument("model", help="model.qonnx.onnx")
    pc.add_argument("folding_config", help="folding_config.json")
    pc.add_argument("--network", help="network JSON: maps FINN nodes to our layers")
    pc.add_argument("--estimate", help="a `codesign estimate --json` file to print beside FINN's")
    pc.add_argument("--out", help="FINN build directory (default: <model dir>/finn_build; "
                                  "emptied first)")
    pc.add_argument("--summary", help="JSON summary path (default: next to the build directory)")
    pc.add_argument("--fpga-part", default="xc7z020clg400-1", help="default: PYNQ-Z1's Zynq-7020")
    pc.add_argument("--clk-ns", type=float, default=10.0)
    pc.set_defaults(func=check)
    args = p.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

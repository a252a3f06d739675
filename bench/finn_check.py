"""Check an export against FINN itself: does FINN build it, with our names, styles and folding?

FINN (finn-plus) is the real consumer of ``model.qonnx.onnx`` and of the three build files
:func:`hw_models.finn_build.write_finn_build_files` writes next to it
(``folding_config.json``, ``specialize_layers.json``, ``finn_build.json``).  Its pins cannot
share an environment with the product's torch, so it lives in its own venv (``python3 -m venv
.venv-finn && .venv-finn/bin/pip install finn-plus psutil``) and this script has two
sub-commands, one per venv::

    # 1. in the product venv: build the model of a network (random weights are enough for a
    #    structure check), export QONNX, write FINN's three build files and the network JSON
    .venv/bin/python bench/finn_check.py prepare --preset example --out out/finn_check/example

    # 2. in the FINN venv: FINN's estimate-only build of that folder, then the checks
    .venv-finn/bin/python bench/finn_check.py check --bundle out/finn_check/example \
        [--estimate estimate.json]

``check --bundle DIR`` reads ``DIR/model.qonnx.onnx``, ``folding_config.json``,
``specialize_layers.json``, ``network.json`` and ``finn_build.json`` (a ``codesign export``
bundle has them all); ``check MODEL FOLDING`` takes the other files from the folding config's
folder unless ``--specialize`` / ``--network`` / ``--build-config`` name them.  The build is
``finn_build.json`` loaded by FINN's own ``DataflowBuildConfig.construct_from`` (its estimate
steps: no ``step_target_fps_parallelization``), with the checked folding and specialize files;
``--fpga-part`` / ``--clk-ns`` override its part and clock.  Vivado's simulator is never needed
(``finn.xsi.SimEngine = object`` before importing the builder), and the ``XILINX_VIVADO must be
set`` error FINN raises while writing its metadata at the very end is caught (a build counts
as complete only if the last step's model was written).  Then it FAILS (exit 1, each listed
under ``problems``) when

1. a key of ``specialize_layers.json`` is not a node of FINN's dataflow partition before
   specialization (``step_create_dataflow_partition.onnx``, named as FINN's specialize step
   names it), a node has no entry, or a node was built in another style than pinned;
2. a key of ``folding_config.json`` (other than ``"Defaults"``) is not a node of FINN's graph
   (``step_apply_folding_config.onnx``: FINN would ignore it silently), a node has no entry, or
   an attribute we set (PE, SIMD, ...) differs from the applied one;
3. with a network JSON: FINN's node names, before and after specialization, are not the ones
   :func:`hw_models.finn_build.finn_nodes` predicts, in order;
4. a node other than the input ``Transpose`` stayed outside the dataflow partition;
5. ``finn_build.json``'s steps are not FINN's estimate-only steps less
   ``step_target_fps_parallelization``.

FINN's per-node cycles and LUT/BRAM/DSP estimates are printed, next to ``codesign estimate
--json`` figures when ``--estimate`` is given (matched by layer via the network JSON).  A JSON
summary goes to ``<build dir>/../finn_check.json`` (``--summary`` to change).  Exit status 0
when every check passed, 1 when one failed, 2 for a missing input file.  The test
``tests/fpga/test_finn_build.py`` runs both sub-commands (it skips without ``.venv-finn``).
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

#: Networks for the recorded check (bench/FINN_CHECK.md) and tests/fpga/test_finn_build.py:
#: every ``examples/finn_check_<name>.json``.
PRESETS: dict[str, dict[str, Any]] = {
    p.stem[len("finn_check_"):]: json.loads(p.read_text())
    for p in sorted((REPO / "examples").glob("finn_check_*.json"))}

FOLD_ATTRS = ("PE", "SIMD")
#: what ``prepare`` writes, besides FINN's three build files
MODEL_FILE, NETWORK_FILE = "model.qonnx.onnx", "network.json"


# ====================================================================== prepare (product venv)
def prepare(args: argparse.Namespace) -> int:
    import torch

    from codesign.models.qcnn import build_qmodel
    from fpga.errors import InputError
    from fpga.export import export_qonnx
    from hw_models.finn_build import (finn_build_config, finn_folding_config,
                                      write_finn_build_files)
    from hw_models.network import NetworkSpec

    if args.preset:
        spec = NetworkSpec.from_dict(PRESETS[args.preset])
    else:
        spec = NetworkSpec.load(args.network)
    try:  # every bad value is reported before anything is written
        finn_folding_config(spec.layers)
        finn_build_config(fpga_part=args.fpga_part, clock_mhz=args.clock_mhz, device=args.device)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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
    export_qonnx(model, (inp.channels, inp.height, inp.width), out / MODEL_FILE)
    files = write_finn_build_files(spec.layers, out, fpga_part=args.fpga_part,
                                   clock_mhz=args.clock_mhz, device=args.device)
    tmp = out / f".{NETWORK_FILE}.tmp"
    tmp.write_text(spec.to_json(indent=2) + "\n")
    os.replace(tmp, out / NETWORK_FILE)
    print(f"wrote {out}/{MODEL_FILE}, " + ", ".join(p.name for p in files.values())
          + f", {NETWORK_FILE}")
    return 0


# ====================================================================== the comparison (pure)
def compare(folding: dict[str, Any], specialize: dict[str, Any],
            before: list[dict[str, Any]], after: list[dict[str, Any]],
            predicted: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Our build files against FINN's graph; pure Python (unit-tested without FINN).

    ``before``: FINN's dataflow nodes before specialization, ``{"name", "op_type", "output"}``;
    ``after``: after applying the folding config, ``{"name", "op_type", "output", "attrs"}``
    (matched to ``before`` by output tensor); ``predicted``: ``(name before, name after)`` per
    node, in order, from :func:`hw_models.finn_build.finn_nodes`.  Returns the per-node
    entries and the lists of what is wrong (``problems`` is empty when all is well).
    """
    problems: list[str] = []
    before_names = [n["name"] for n in before]
    after_names = [n["name"] for n in after]
    by_output = {n["output"]: n for n in after}

    unknown_pins = [k for k in specialize if k != "Defaults" and k not in before_names]
    unpinned = [n for n in before_names if n not in specialize]
    style_mismatch = []
    built_from: dict[str, str] = {}
    for n in before:
        built = by_output.get(n["output"])
        if built is None:
            problems.append(f"{n['name']}: no node after specialization has its output "
                            f"{n['output']!r}; its built style is unknown")
            continue
        built_from[built["name"]] = n["name"]
        pin = (specialize.get(n["name"]) or {}).get("preferred_impl_style")
        if pin is not None and built["op_type"] != f"{n['op_type']}_{pin}":
            style_mismatch.append(f"{n['name']}: pinned {pin!r}, FINN built {built['op_type']}")
    for k in unknown_pins:
        problems.append(f"specialize_layers.json: {k!r} is not a node of FINN's dataflow "
                        "partition before specialization")
    for k in unpinned:
        problems.append(f"specialize_layers.json: FINN node {k} has no entry (FINN chooses its "
                        "style itself)")
    problems += [f"specialize_layers.json: {m}" for m in style_mismatch]

    unknown_keys = [k for k in folding if k != "Defaults" and k not in after_names]
    for k in unknown_keys:
        problems.append(f"folding_config.json: {k!r} is not a node of FINN's graph (FINN "
                        "ignores it silently)")
    nodes: list[dict[str, Any]] = []
    unfolded, attr_mismatch = [], []
    for n in after:
        attrs = n["attrs"]
        expected = folding.get(n["name"])
        entry: dict[str, Any] = {
            "name": n["name"], "op_type": n["op_type"], "before": built_from.get(n["name"]),
            "applied": {k: attrs[k] for k in FOLD_ATTRS if k in attrs},
            "expected": ({k: expected[k] for k in FOLD_ATTRS if k in expected}
                         if isinstance(expected, dict) else None)}
        if not isinstance(expected, dict):
            entry["status"] = "not in our config"
            unfolded.append(n["name"])
            problems.append(f"folding_config.json: FINN node {n['name']} has no entry")
        else:
            bad = {k: (v, attrs.get(k, "<no such attribute>")) for k, v in expected.items()
                   if attrs.get(k, "<no such attribute>") != v}
            if bad:
                entry["status"] = "mismatch"
                attr_mismatch.append(n["name"])
                problems.append(f"folding_config.json: {n['name']}: applied differs from ours "
                                f"(ours, FINN's) {bad}")
            else:
                entry["status"] = "ok"
        nodes.append(entry)

    names_ok = None
    if predicted is not None:
        names_ok = (before_names == [p[0] for p in predicted]
                    and after_names == [p[1] for p in predicted])
        if not names_ok:
            problems.append("FINN's node names differ from hw_models.finn_build."
                            f"finn_nodes' prediction:\n    FINN: {list(zip(before_names, after_names))}"
                            f"\n    ours: {predicted}")
    return {
        "nodes": nodes, "graph_nodes_before": before_names, "graph_nodes": after_names,
        "folding_keys_not_in_graph": unknown_keys, "nodes_without_folding": unfolded,
        "folding_mismatches": attr_mismatch, "specialize_keys_not_in_graph": unknown_pins,
        "nodes_without_pin": unpinned, "style_mismatches": style_mismatch,
        "names_as_predicted": names_ok,
        "all_names_in_graph": not unknown_keys and not unknown_pins,
        "all_folding_applied": not unfolded and not attr_mismatch and not unknown_keys,
        "problems": problems}


# ====================================================================== check (FINN venv)
def _finn_steps() -> list[str]:
    import finn.builder.build_dataflow_config as build_cfg

    return [s for s in build_cfg.estimate_only_dataflow_steps
            if s != "step_target_fps_parallelization"]


def _run_finn(model: Path, folding: Path, specialize: Path, build_config: Path | None,
              build_dir: Path, fpga_part: str | None, clk_ns: float | None) -> dict[str, Any]:
    """FINN's estimate-only build of ``build_config`` (FINN's own loader) with the given
    folding and specialize files; returns what happened."""
    os.environ.setdefault("FINN_BUILD_DIR", str((build_dir / "finn_tmp").resolve()))
    import finn.xsi

    finn.xsi.SimEngine = object  # the estimate steps never simulate; skip the Vivado check
    import finn.builder.build_dataflow as build
    import finn.builder.build_dataflow_config as build_cfg

    info: dict[str, Any] = {}
    if build_config is not None:
        cfg = build_cfg.DataflowBuildConfig.construct_from(build_config.resolve())
        info["build_config"] = str(build_config)
        info["build_config_files"] = {"folding_config_file": str(cfg.folding_config_file),
                                      "specialize_layers_config_file":
                                          str(cfg.specialize_layers_config_file)}
    else:
        from fpga.devices import get_device

        dev = get_device("pynq-z1")
        cfg = build_cfg.DataflowBuildConfig(fpga_part=dev.part,
                                            synth_clk_period_ns=1000.0 / dev.clock_mhz,
                                            steps=_finn_steps())
    cfg.output_dir = str(build_dir)
    cfg.folding_config_file = folding.resolve()
    cfg.specialize_layers_config_file = specialize.resolve()
    if fpga_part is not None:
        cfg.fpga_part = fpga_part
    if clk_ns is not None:
        cfg.synth_clk_period_ns = clk_ns
    cfg.generate_outputs = [build_cfg.DataflowOutputType.ESTIMATE_REPORTS]
    cfg = build_cfg.DataflowBuildConfig.construct_from(cfg)
    steps = list(cfg.steps or [])
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
    last_step = build_dir / "intermediate_models" / f"{steps[-1]}.onnx" if steps else None
    return {**info, "fpga_part": cfg.fpga_part, "clk_ns": cfg.synth_clk_period_ns,
            "steps": steps, "return_code": rc, "error_at_end": end_error,
            "completed": bool(last_step and last_step.is_file()),
            "build_seconds": round(time.perf_counter() - t0, 2)}


def _graph_nodes(path: Path, *, rename: bool, with_attrs: bool) -> list[dict[str, Any]]:
    """Nodes of a FINN intermediate model; ``rename``: named as FINN's specialize step names
    them before it applies the specialize config (``GiveUniqueNodeNamesRecursive``)."""
    from qonnx.core.modelwrapper import ModelWrapper

    model = ModelWrapper(str(path))
    if rename:
        from finn.transformation.qonnx.give_unique_node_names_recursive import \
            GiveUniqueNodeNamesRecursive

        model = model.transform(GiveUniqueNodeNamesRecursive())
    out = []
    for n in model.graph.node:
        entry: dict[str, Any] = {"name": n.name, "op_type": n.op_type, "output": n.output[0]}
        if with_attrs:
            entry["attrs"] = {k: _decode(v) for k, v in _attrs(n).items()}
        out.append(entry)
    return out


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


def _usage(message: str) -> None:
    print(f"finn_check.py check: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _resolve_inputs(args: argparse.Namespace) -> list[dict[str, Path | None]]:
    """The files ``check`` reads, per bundle: from ``--bundle DIR...`` or the positionals."""
    from hw_models.finn_build import FILES

    if args.bundle:
        if args.model or args.folding_config:
            _usage("give either --bundle DIR or MODEL FOLDING_CONFIG, not both")
        if len(args.bundle) > 1 and (args.out or args.summary or args.specialize
                                     or args.network or args.build_config or args.estimate):
            _usage("with several bundles, --out, --summary, --specialize, "
                             "--network, --build-config and --estimate cannot be given")
        pairs = [(Path(d) / MODEL_FILE, Path(d) / FILES["folding_config"]) for d in args.bundle]
    else:
        if not (args.model and args.folding_config):
            _usage("give --bundle DIR, or MODEL and FOLDING_CONFIG")
        pairs = [(Path(args.model), Path(args.folding_config))]
    out = []
    for model, folding in pairs:
        d = folding.parent
        network = Path(args.network) if args.network else d / NETWORK_FILE
        build_config = Path(args.build_config) if args.build_config else d / FILES["finn_build"]
        out.append({
            "model": model, "folding_config": folding,
            "specialize_layers": (Path(args.specialize) if args.specialize
                                  else d / FILES["specialize_layers"]),
            "network": network if args.network or network.is_file() else None,
            "finn_build": build_config if args.build_config or build_config.is_file() else None})
    return out


def check(args: argparse.Namespace) -> int:
    """Every bundle in turn (one FINN import for all); the worst exit status."""
    bundles = _resolve_inputs(args)
    status = 0
    for files in bundles:
        if len(bundles) > 1:
            print(f"\n===== {files['folding_config'].parent}")
        status = max(status, _check_one(files, args))
    return status


def _check_one(files: dict[str, Path | None], args: argparse.Namespace) -> int:
    missing = [f"{role}: {p}" for role, p in files.items() if p is not None and not p.is_file()]
    if missing:
        print("error: file not found: " + "; ".join(missing), file=sys.stderr)
        return 2
    model, folding = files["model"], files["folding_config"]
    specialize = files["specialize_layers"]
    build_dir = Path(args.out) if args.out else model.parent / "finn_build"
    if build_dir.exists():
        shutil.rmtree(build_dir)
    build_dir.mkdir(parents=True)
    ours: dict[str, Any] = json.loads(folding.read_text())
    pins: dict[str, Any] = json.loads(specialize.read_text())

    node_layer: dict[str, str] = {}
    predicted: list[tuple[str, str]] | None = None
    if files["network"] is not None:
        from hw_models.finn_build import finn_nodes
        from hw_models.network import NetworkSpec

        predicted = []
        for n in finn_nodes(NetworkSpec.load(files["network"]).layers):
            predicted.append((n.base_name, n.name))
            node_layer[n.name] = n.layer

    run = _run_finn(model, folding, specialize, files["finn_build"], build_dir, args.fpga_part,
                    args.clk_ns)
    summary: dict[str, Any] = {"model": str(model), "folding_config": str(folding),
                               "specialize_layers": str(specialize),
                               "network": str(files["network"]) if files["network"] else None,
                               **run}
    try:
        from importlib.metadata import version

        summary["finn_plus_version"] = version("finn-plus")
    except Exception:  # pragma: no cover
        pass
    problems: list[str] = []
    if run["steps"] != _finn_steps():
        problems.append(f"build steps {run['steps']} are not FINN's estimate-only steps less "
                        f"step_target_fps_parallelization ({_finn_steps()})")
    if not run["completed"]:
        log = build_dir / "build_dataflow.log"
        tail = log.read_text().splitlines()[-15:] if log.is_file() else []
        problems.append("FINN's build did not complete:\n    " + "\n    ".join(tail))
    else:
        report = build_dir / "report"
        inter = build_dir / "intermediate_models"
        from onnx import load as onnx_load

        parent = onnx_load(str(inter / "dataflow_parent.onnx"))
        outside = []
        graph_inputs = {i.name for i in parent.graph.input}
        for n in parent.graph.node:
            if n.op_type == "StreamingDataflowPartition":
                continue
            if not (n.op_type == "Transpose" and n.input[0] in graph_inputs):
                outside.append(f"{n.name} ({n.op_type})")
        summary["outside_partition"] = outside
        if outside:
            problems.append("nodes left outside the dataflow partition (FINN could not map "
                            "them to hardware): " + ", ".join(outside))

        before = _graph_nodes(inter / "step_create_dataflow_partition.onnx", rename=True,
                              with_attrs=False)
        after = _graph_nodes(inter / "step_apply_folding_config.onnx", rename=False,
                             with_attrs=True)
        result = compare(ours, pins, before, after, predicted)
        problems += result.pop("problems")
        nodes = result.pop("nodes")
        cycles = json.loads((report / "estimate_layer_cycles.json").read_text())
        resources = json.loads((report / "estimate_layer_resources.json").read_text())
        perf = json.loads((report / "estimate_network_performance.json").read_text())
        final = {e["name"]: e["attrs"] for e in _graph_nodes(
            inter / "step_minimize_bit_width.onnx", rename=False, with_attrs=True)}
        for n in nodes:
            n["layer"] = node_layer.get(n["name"])
            n["cycles"], n["resources"] = cycles.get(n["name"]), resources.get(n["name"])
            # the data types FINN estimated with (after narrowing them from the weights)
            n["datatypes"] = {k: v for k, v in final.get(n["name"], {}).items()
                              if k.endswith("DataType") or k in ("binaryXnorMode",
                                                                  "noActivation")}
        summary.update(result)
        summary["nodes"] = nodes
        summary["network_performance"] = perf
        summary["resources_total"] = resources.get("total")

        est_layers: dict[str, dict[str, Any]] = {}
        if args.estimate:
            est = json.loads(Path(args.estimate).read_text())
            est_layers = _layer_estimates(est, set(node_layer.values()))
            summary["estimate_file"] = args.estimate
            if not est_layers:
                summary["estimate_note"] = ("no per-layer entries found by layer name (pass "
                                            "a network JSON, and check the file's format)")
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
    print(f"\nFINN build: {run['build_seconds']} s, completed={run['completed']}, part "
          f"{run['fpga_part']}, {run['clk_ns']} ns; summary: {out_json}")
    if problems:
        print("\nFAILED:\n  " + "\n  ".join(problems))
        if summary.get("specialize_keys_not_in_graph"):
            print("FINN's nodes before specialization: "
                  + ", ".join(summary["graph_nodes_before"]))
        if summary.get("folding_keys_not_in_graph"):
            print("FINN's nodes: " + ", ".join(summary["graph_nodes"]))
        return 1
    print("OK: every node pinned and built in its style, every folding key a FINN node and "
          "every PE/SIMD applied; only the input Transpose is on the host"
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
    pp = sub.add_parser("prepare", help="(product venv) export QONNX + FINN's build files")
    src = pp.add_mutually_exclusive_group(required=True)
    src.add_argument("--preset", choices=sorted(PRESETS))
    src.add_argument("--network", help="a network JSON file (the documented format)")
    pp.add_argument("--out", required=True, help="directory for the files")
    pp.add_argument("--seed", type=int, default=0)
    pp.add_argument("--device", default="pynq-z1",
                    help="board of fpga.devices whose part and clock finn_build.json gets")
    pp.add_argument("--fpga-part", help="part for finn_build.json (default: the device's)")
    pp.add_argument("--clock-mhz", type=float, help="clock for finn_build.json (default: the "
                                                    "device's)")
    pp.set_defaults(func=prepare)
    pc = sub.add_parser("check", help="(FINN venv) FINN estimate build + checks")
    pc.add_argument("model", nargs="?", help=MODEL_FILE)
    pc.add_argument("folding_config", nargs="?", help="folding_config.json")
    pc.add_argument("--bundle", nargs="+", metavar="DIR",
                    help="folder(s) with model.qonnx.onnx, folding_config.json, "
                         "specialize_layers.json, network.json, finn_build.json (several: one "
                         "FINN import for all, a summary in each)")
    pc.add_argument("--specialize", help="specialize_layers.json (default: next to the "
                                         "folding config)")
    pc.add_argument("--build-config", help="finn_build.json (default: next to the folding "
                                           "config, if there)")
    pc.add_argument("--network", help="network JSON: maps FINN nodes to our layers and predicts "
                                      "the names (default: network.json next to the folding "
                                      "config, if there)")
    pc.add_argument("--estimate", help="a `codesign estimate --json` file to print beside FINN's")
    pc.add_argument("--out", help="FINN build directory (default: <model dir>/finn_build; "
                                  "emptied first)")
    pc.add_argument("--summary", help="JSON summary path (default: next to the build directory)")
    pc.add_argument("--fpga-part", help="override finn_build.json's part (without it: PYNQ-Z1's "
                                        "xc7z020clg400-1)")
    pc.add_argument("--clk-ns", type=float, help="override finn_build.json's clock period")
    pc.set_defaults(func=check)
    args = p.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())

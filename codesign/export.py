"""Export one design of a finished search as a deployable bundle (``codesign export``).

Steps: pick the design (``id``, ``best`` or ``knee``) from ``RUN_DIR/pareto.json`` (for
``best``, the ``rerank`` designs the supernet scores highest are each fine-tuned briefly and the
one with the best validation accuracy wins: supernet accuracies are a proxy that favours
aggressive low-bit designs a little); rebuild the
supernet from ``RUN_DIR/supernet.pt``; recalibrate BN for the subnet and extract it into a static
Brevitas model; fine-tune it briefly (kept only if validation accuracy does not drop); measure
test-set accuracy (the first and only time the test set is used); write

* ``model.qonnx.onnx``: QONNX, static batch 1, for FINN;
* ``model.qcdq.onnx``: QCDQ ONNX, dynamic batch, for onnxruntime (only when every layer has
  2 bits or more: QCDQ cannot express 1-bit values);
* ``folding_config.json``: FINN's folding format, keyed by the node names FINN gives;
* ``specialize_layers.json``: the implementation style (HLS/RTL) of every node, pinned to the
  one the cost model priced, so that FINN builds exactly the nodes the folding config names;
* ``finn_build.json``: FINN's build configuration (part, clock, the two files above, the
  estimate steps), loadable with ``DataflowBuildConfig.construct_from``;
* ``network.json``: the design in the network format (``codesign estimate`` reads it);
* ``model.pt``: the fine-tuned Brevitas state dict;
* ``report.json``: test accuracy, cost report, preprocessing, and the top-1 agreement of each
  exported model with PyTorch over the whole test set; for a search that measured robustness,
  the exported model's test accuracy under the search's attack (and under 10-step PGD, when the
  search used FGSM, which can overstate it).

Everything is written into a temporary sibling folder that is renamed to ``--out`` at the
end, so a failed export leaves nothing half-written.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from fpga.devices import get_device
from fpga.errors import InputError
from hw_models.cost import FinnCostModel
from hw_models.network import NetworkSpec

from codesign.io import atomic_write_json
from codesign.request import SearchRequest
from codesign.rundir import (DESIGN_FIELDS, load_pareto,
                             remove_stale_temp_dirs)
from codesign.search.loop import build_space
from codesign.spaces.base import Candidate

log = logging.getLogger(__name__)

BUNDLE_SCHEMA = 1
PREPROCESSING = {"layout": "NCHW", "dtype": "float32", "scale": 1.0 / 255.0, "mean": 0.0,
                 "std": 1.0, "formula": "x = uint8_pixels / 255 (then (x - mean) / std)"}


def select_design(pareto: dict[str, Any], which: str) -> dict[str, Any]:
    """The design named by ``which``: a trial id, ``best`` or ``knee`` (feasible designs only)."""
    designs = pareto["designs"]
    feasible_ids = [d["id"] for d in designs if d["feasible"]]
    accepted = ["best", "knee"] + [str(i) for i in feasible_ids[:20]] + (
        ["..."] if len(feasible_ids) > 20 else [])
    if not feasible_ids:
        raise InputError("design", "the run has no design within its budgets", [])
    if which in ("best", "knee"):
        ident = pareto.get(which)
    else:
        try:
            ident = int(which)
        except ValueError:
            raise InputError("design", f"got {which!r}", accepted) from None
    for d in designs:
        if d["id"] == ident:
            if not d["feasible"]:
                raise InputError("design", f"design {ident} breaks a budget "
                                 f"({d.get('violations')}); export a feasible one", accepted)
            return d
    raise InputError("design", f"no design with id {which!r}", accepted)


def _check_design_fits(d: dict[str, Any], space: Any, run_dir: Path) -> None:
    """A design of pareto.json must be a candidate of the run's space with a readable network."""
    where = f"{run_dir / 'pareto.json'}, design {d['id']}"
    try:
        space.validate(Candidate(d["candidate"]))
        NetworkSpec.from_dict(d["network"])
    except InputError as exc:
        raise InputError("pareto.designs", f"{where} is not a design of this search ({exc}); "
                         f"rerun its `codesign search` command to rewrite the file") from None


def export_design(run_dir: str | Path, which: str, out: str | Path, data_dir: str | None = None,
                  finetune_epochs: float = 2.0, finetune_lr: float = 2e-3,
                  rerank: int = 5, rerank_epochs: float = 0.5,
                  qonnx_samples: int | None = None,
                  progress: bool = True) -> dict[str, Any]:
    """Export design ``which`` of ``run_dir`` into the folder ``out``; returns the report."""
    import torch

    from codesign.data import load_dataset
    from codesign.supernet import build_supernet
    from codesign.supernet.fewshot import load_trained
    from codesign.supernet.plan import WARMUP_FILE
    from codesign.supernet.train import accuracy, finetune, pick_device, tensor_splits, to_float
    from hw_models.finn_build import write_finn_build_files
    from fpga.export.onnx_export import (export_qcdq, export_qonnx, qcdq_unsupported_reason,
                                         run_qcdq, run_qonnx, top1_agreement)

    t_start = time.perf_counter()
    run_dir, out = Path(run_dir), Path(out)
    # --- every argument and file is checked before anything is written
    if not (isinstance(finetune_epochs, (int, float)) and finetune_epochs >= 0
            and np.isfinite(finetune_epochs)):
        raise InputError("finetune-epochs", f"got {finetune_epochs}", ["a number >= 0"])
    if not (isinstance(finetune_lr, (int, float)) and finetune_lr > 0 and np.isfinite(finetune_lr)):
        raise InputError("finetune-lr", f"got {finetune_lr}", ["a positive number"])
    if not (isinstance(rerank_epochs, (int, float)) and rerank_epochs > 0
            and np.isfinite(rerank_epochs)):
        raise InputError("rerank-epochs", f"got {rerank_epochs}", ["a positive number"])
    if isinstance(rerank, bool) or not isinstance(rerank, int) or rerank < 1:
        raise InputError("rerank", f"got {rerank}", ["an integer >= 1"])
    if qonnx_samples is not None and (isinstance(qonnx_samples, bool)
                                      or not isinstance(qonnx_samples, int) or qonnx_samples < 1):
        raise InputError("qonnx-samples", f"got {qonnx_samples}",
                         ["an integer >= 1 (default: every test image)"])
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("out", f"{out} exists and is not empty", ["a new or empty directory"])
    pareto = load_pareto(run_dir, require=tuple(DESIGN_FIELDS))
    try:
        request = SearchRequest.from_dict(pareto["request"])
    except InputError as exc:
        raise InputError("pareto.request", f"{run_dir / 'pareto.json'} holds a request this "
                         f"version cannot read ({exc}); rerun its `codesign search`") from None
    design = select_design(pareto, which)
    ckpt = run_dir / WARMUP_FILE  # every scheme has it (few-shot: the warm-up); checked first
    if not ckpt.is_file():
        raise InputError("RUN_DIR", f"{ckpt} not found: the run's supernet is missing; rerun "
                         f"its `codesign search` command to train it")
    data = load_dataset(request.dataset, data_dir or request.data_dir)
    space = build_space(request, data)
    for d in pareto["designs"]:  # every design this export may extract must be of the space
        if d["feasible"]:
            _check_design_fits(d, space, run_dir)

    device = pick_device("auto")
    recover = (f"rerun the `codesign search` command of {run_dir} (same arguments) after "
               f"removing the damaged file: it retrains the supernet")
    supernet = load_trained(space, build_supernet, request.supernet, run_dir,
                            request.few_shot_splits, recover)
    supernet.to(device)

    sp = tensor_splits(data, request.val_size, request.seed)
    train_x, train_y, val_x, val_y, test_x, test_y = (
        sp.train_x, sp.train_y, sp.val_x, sp.val_y, sp.test_x, sp.test_y)
    calib = to_float(train_x[:request.calib_images], device)
    ft_kw = dict(lr=finetune_lr, batch_size=request.batch_size, seed=request.seed,
                 augment=request.dataset == "cifar10")

    def extracted(d: dict[str, Any]) -> tuple[NetworkSpec, Any]:
        cand = Candidate(d["candidate"])
        space.validate(cand)
        spec = NetworkSpec.from_dict(d["network"])
        supernet.activate(cand)
        supernet.recalibrate_bn(calib)
        return spec, supernet.extract(cand, spec).eval()

    # "best": the supernet's accuracies are a proxy; re-rank its top designs with a short
    # fine-tune each (a better proxy) and export the winner.
    reranked = []
    if which == "best" and rerank > 1:
        pool = sorted((d for d in pareto["designs"] if d["feasible"]),
                      key=lambda d: (-d["accuracy"], d["lut"]))[:rerank]
        for d in pool:
            _, m = extracted(d)
            r = finetune(m, train_x, train_y, val_x, val_y, device, epochs=rerank_epochs,
                         progress=progress, **ft_kw)
            reranked.append({"id": d["id"], "supernet_val": d["accuracy"],
                             "short_finetune_val": max(r["val_after"], r["val_before"]),
                             "lut": d["lut"]})
            log.info("re-rank: design %s supernet %.4f -> %.4f after %.2g epochs", d["id"],
                     d["accuracy"], reranked[-1]["short_finetune_val"], rerank_epochs)
        top = max(reranked, key=lambda r: (r["short_finetune_val"], -r["lut"]))
        design = next(d for d in pool if d["id"] == top["id"])

    spec, model = extracted(design)
    ft = finetune(model, train_x, train_y, val_x, val_y, device, epochs=finetune_epochs,
                  progress=progress, **ft_kw)
    model = model.cpu().eval()
    cpu = torch.device("cpu")
    test_acc = accuracy(model, test_x, test_y, cpu)
    robustness = None
    if request.measures_robustness:  # E2RNAS's check after export: the fine-tuned static model
        from codesign.search.robust import Attack, robust_accuracy

        attack = Attack(request.attack, float(request.eps), request.pgd_steps)
        n_r = min(len(test_x), max(request.robust_images, 1000))
        robustness = {"attack": request.attack, "eps": request.eps,
                      "pgd_steps": request.pgd_steps if request.attack == "pgd" else None,
                      "test_images": n_r,
                      "robust_accuracy": robust_accuracy(model, test_x[:n_r], test_y[:n_r], cpu,
                                                         attack, seed=request.seed),
                      "validation_robust_accuracy_search": design.get("robust_accuracy")}
        if request.attack == "fgsm":  # FGSM can overstate robustness (gradient masking)
            robustness["pgd_robust_accuracy"] = robust_accuracy(
                model, test_x[:n_r], test_y[:n_r], cpu, Attack("pgd", float(request.eps), 10),
                seed=request.seed)
    with torch.no_grad():
        torch_logits = np.concatenate([model(to_float(test_x[i:i + 1000], cpu)).numpy()
                                       for i in range(0, len(test_x), 1000)])
    x_test = data.test_x.astype(np.float32) / 255.0

    out.parent.mkdir(parents=True, exist_ok=True)
    # an export killed mid-way left its temporary folder: remove it (its process is gone)
    tmp_prefix = f".{out.name}.tmp-"
    for p in remove_stale_temp_dirs(out.parent, tmp_prefix):
        log.info("removed %s, left by an export that was killed", p)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f"{tmp_prefix}{os.getpid()}-"))
    try:
        shape = (1, *data.shape)
        files = {}
        export_qonnx(model, shape, tmp / "model.qonnx.onnx")
        files["qonnx"] = "model.qonnx.onnx"
        n_q = len(x_test) if qonnx_samples is None else min(qonnx_samples, len(x_test))
        t0 = time.perf_counter()
        qonnx_logits = run_qonnx(tmp / "model.qonnx.onnx", x_test[:n_q])
        qonnx_s = time.perf_counter() - t0
        qonnx_agreement = top1_agreement(torch_logits[:n_q], qonnx_logits)

        reason = qcdq_unsupported_reason(spec.compute_layers)
        qcdq_agreement, qcdq_note = None, reason
        if reason is None:
            export_qcdq(model, shape, tmp / "model.qcdq.onnx")
            files["qcdq"] = "model.qcdq.onnx"
            qcdq_agreement = top1_agreement(torch_logits, run_qcdq(tmp / "model.qcdq.onnx", x_test))

        # FINN's folding config, the implementation styles it must keep (the ones priced) and
        # the build configuration that reads both: every name is one FINN builds
        for role, path in write_finn_build_files(spec.layers, tmp, device=request.device,
                                                 clock_mhz=request.clock).items():
            files[role] = path.name
        atomic_write_json(tmp / "network.json", spec.to_dict())
        files["network"] = "network.json"
        torch.save(model.state_dict(), tmp / "model.pt")
        files["brevitas_state_dict"] = "model.pt"

        cost = FinnCostModel(get_device(request.device), clock_mhz=request.clock).estimate(spec)
        report = {
            "schema": BUNDLE_SCHEMA,
            "design": {"id": design["id"], "selected_as": which, "run_dir": str(run_dir),
                       "reranked": reranked},
            "dataset": data.note,
            "test_accuracy": test_acc,
            "test_images": int(len(test_x)),
            "validation_accuracy_search": design["accuracy"],
            "finetune": ft,
            **({"robustness": robustness} if robustness is not None else {}),
            "cost": cost.to_dict(),
            "budgets": request.budgets(),
            "preprocessing": PREPROCESSING,
            "input_shape": list(shape),
            "qcdq_agreement": qcdq_agreement,
            "qcdq_note": qcdq_note,
            "qonnx_agreement": qonnx_agreement,
            "qonnx_agreement_images": n_q,
            "qonnx_executor_seconds": round(qonnx_s, 1),
            "files": files,
            "network": spec.to_dict(),
            "seconds": round(time.perf_counter() - t_start, 1),
        }
        atomic_write_json(tmp / "report.json", report)
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return report

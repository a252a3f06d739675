"""``codesign export``: fine-tune, test and export one design of a finished search."""
from __future__ import annotations

import argparse
import logging


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a design as QONNX (FINN), QCDQ ONNX and a FINN folding config",
        description="Extract a design's subnet from RUN_DIR's supernet, fine-tune it briefly, "
                    "measure its test accuracy and write model.qonnx.onnx, model.qcdq.onnx, "
                    "folding_config.json and report.json into --out.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--design", default="knee", help="a design id from pareto.json, best or knee")
    p.add_argument("--out", required=True, help="bundle folder (must be new or empty)")
    p.add_argument("--data-dir", default=None, help="data folder, if not the one the search used")
    p.add_argument("--finetune-epochs", type=float, default=2.0,
                   help="fine-tuning epochs of the extracted subnet (0: none)")
    p.add_argument("--finetune-lr", type=float, default=2e-3, help="peak learning rate (cosine)")
    p.add_argument("--rerank", type=int, default=5,
                   help="for --design best: fine-tune this many top designs briefly, keep the best")
    p.add_argument("--rerank-epochs", type=float, default=0.5)
    p.add_argument("--qonnx-samples", type=int, default=None,
                   help="test images run through qonnx's executor (default: all)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from codesign.export import export_design

    r = export_design(args.run_dir, args.design, args.out, data_dir=args.data_dir,
                      finetune_epochs=args.finetune_epochs, finetune_lr=args.finetune_lr,
                      rerank=args.rerank, rerank_epochs=args.rerank_epochs,
                      qonnx_samples=args.qonnx_samples,
                      progress=not args.no_progress)
    c = r["cost"]
    qcdq = (f"{100 * r['qcdq_agreement']:.2f}%" if r["qcdq_agreement"] is not None
            else f"not exported ({r['qcdq_note']})")
    print(f"design {r['design']['id']} ({args.design}): test accuracy {100 * r['test_accuracy']:.2f}% "
          f"({r['dataset']}), LUT {c['totals']['lut']:,.0f}, BRAM18 {c['totals']['bram18']:,.0f}, "
          f"DSP {c['totals']['dsp']:,.0f}, {c['fps']:,.0f} frames/s at {c['clock_mhz']:g} MHz")
    print(f"agreement with PyTorch: QCDQ {qcdq}, QONNX {100 * r['qonnx_agreement']:.2f}% "
          f"({r['qonnx_agreement_images']} images)")
    print(f"wrote {args.out}/: {', '.join(r['files'].values())}, report.json")
    return 0

"""Probe a trained run's supernet: validation accuracy of a few reference subnets (the largest,
the largest at lower bit widths, the smallest, and any design ids), to see which parts of the
space the supernet serves well.

    .venv/bin/python bench/subnet_probe.py runs/cifar10-cnv-l --designs 3 --val 1000
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from common import load_run
from codesign.spaces.base import Candidate
from codesign.supernet.train import evaluate_subnet


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run")
    ap.add_argument("--designs", type=int, nargs="*", default=[])
    ap.add_argument("--val", type=int, default=1000, help="validation images")
    ap.add_argument("--calib", type=int, nargs="+", default=[500, 2000])
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    run = Path(args.run)
    loaded = load_run(run)
    space, net, sp = loaded.space, loaded.supernet, loaded.splits
    vx, vy = sp.val_x[:args.val], sp.val_y[:args.val]
    cpu = torch.device("cpu")
    big, small = space.extreme(largest=True), space.extreme(largest=False)

    def uniform(c: Candidate, b: int) -> Candidate:
        return c.replace(**{s.name: (b if b in s.choices else min(s.choices))
                            for s in space.slots if s.name.startswith("quant.")})

    probes = [("largest", big)]
    bits = sorted({b for s in space.slots if s.name.startswith("quant.") for b in s.choices})
    probes += [(f"largest at {b} bits", uniform(big, b)) for b in bits if b < max(space.act_bits)]
    pareto = json.loads((run / "pareto.json").read_text())
    for i in args.designs:
        d = next(x for x in pareto["designs"] if x["id"] == i)
        probes.append((f"design {i}", Candidate(d["candidate"])))
    probes.append(("smallest", small))
    out = []
    print(f"{'subnet':24}" + "".join(f"{'calib ' + str(n):>12}" for n in args.calib))
    for name, c in probes:
        accs = [evaluate_subnet(net, c, sp.train_x[:n], vx, vy, cpu) for n in args.calib]
        out.append({"subnet": name, "accuracy": dict(zip(map(str, args.calib), accs))})
        print(f"{name:24}" + "".join(f"{100 * a:11.1f}%" for a in accs), flush=True)
    if args.json:
        from codesign.io import atomic_write_json
        atomic_write_json(args.json, {"run": str(run), "val_images": args.val, "probes": out})


if __name__ == "__main__":
    main()

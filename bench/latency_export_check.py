"""Does the latency table predict an *exported, trained* model's latency?

    .venv/bin/python bench/latency_export_check.py TABLE.json EXPORT_DIR [EXPORT_DIR ...]

Times each ``EXPORT_DIR/model.qcdq.onnx`` (what ``codesign export`` wrote; trained weights)
with the table's runtime, threads and batch and protocol, and prints it next to the table's
prediction for ``EXPORT_DIR/network.json``.  The table was built from random-weight ops, so
this checks that trained values do not change latency.  CPU / onnxruntime tables only.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codesign.latency import (KeepAwake, OrtRunner, Protocol,  # noqa: E402
                              measure_round_robin, network_runner, speed_mismatch)
from fpga.errors import InputError  # noqa: E402
from hw_models.latency_table import LatencyTable, LatencyTableModel  # noqa: E402
from hw_models.network import NetworkSpec  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("table")
    ap.add_argument("exports", nargs="+")
    args = ap.parse_args()
    table = LatencyTable.load(args.table)
    if (table.machine.get("device_kind"), table.machine.get("runtime")) != ("cpu", "onnxruntime"):
        raise InputError("table", "this check times QCDQ models on the CPU", ["a cpu/onnxruntime table"])
    model = LatencyTableModel(table)
    proto = Protocol.of_table(table).resolved("cpu", table.threads)
    rows = []
    runners = {}
    for e in args.exports:
        spec = NetworkSpec.load(Path(e) / "network.json")
        shape = (spec.input.channels, spec.input.height, spec.input.width)
        runners[e] = OrtRunner(Path(e) / "model.qcdq.onnx", "cpu", table.threads, table.batch,
                               shape)
        rows.append((e, model.estimate(spec)))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        probe = ref = None
        if proto.probe and isinstance(table.protocol.get("probe_network"), dict):
            probe = network_runner(NetworkSpec.from_dict(table.protocol["probe_network"]), "cpu",
                                   "onnxruntime", table.threads, table.batch, Path(tmp), "probe")
            ref = table.protocol.get("probe_ref_ms")
        with KeepAwake(bool(proto.keep_awake)):  # as the table was built
            measured = measure_round_robin(runners, proto, probe=probe, probe_ref_ms=ref)
    out = []
    for e, rep in rows:
        m = measured[e][table.stat_key]  # what the table predicts (median, or p10, ...)
        err = 100 * (rep.latency_ms - m) / m
        out.append({"export": e, "predicted_ms": rep.latency_ms, "measured_ms": m,
                    "iqr_ms": measured[e]["iqr_ms"], "error_pct": err})
        print(f"{e:<40} predicted {rep.latency_ms:.4f} ms  measured {m:.4f} ms "
              f"(IQR {measured[e]['iqr_ms']:.4f})  error {err:+.1f} %")
    off = speed_mismatch(measured.state, proto.state_tolerance)
    if off:
        print(f"warning: {off}; rebuild the table on this machine to check it here: "
              f"{table.build_command(args.table)}")
    res = {"table": args.table, "target": table.describe_target(), "state": measured.state,
           "machine_mismatch": off, "exports": out}
    (ROOT / "bench" / "latency_export_check.json").write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

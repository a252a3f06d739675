"""Table-driven bad input for every ``codesign`` command (README, "Bad input").

Every case runs ``codesign.cli.main(argv)`` in this process (the ``cli`` fixture of
``tests/conftest.py``) inside a fresh workspace folder (also the working directory) holding the
files the case prepared, and asserts what the README promises for bad input:

* exit code 2;
* exactly one non-empty line on stderr, containing ``error`` and the offending field's name;
* no traceback;
* nothing under the workspace created, changed or removed (hidden temporary files included).

A case is ``Case(id, argv, field)``: ``argv(ws)`` builds the command line, preparing what it
needs through the :class:`Workspace` helpers (valid base files with one field broken, damaged
files, runs, tables, ONNX models); ``field`` is the substring the error line must contain (the
field's name); ``echo`` are more substrings it must contain (e.g. the user's value as given).

To add cases, append ``Case(...)`` objects to one of the section lists below (or a new list
added to ``CASES``).  The ``search`` and ``export`` section (``SEARCH_CASES``,
``EXPORT_CASES``) is left for the owner of those commands to extend.

No case may start a measurement or a training: measuring entry points are replaced by a function
that fails the test, and bad input must be refused before them anyway.
"""
from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

ROOT = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------ valid base documents
#: a small valid network (fast to price, fold and sweep)
NET: dict[str, Any] = {
    "name": "tiny",
    "input": {"channels": 1, "height": 8, "width": 8, "bits": 8},
    "layers": [
        {"name": "conv0", "op": "conv", "out_channels": 4, "kernel": 3, "stride": 1,
         "padding": 0, "weight_bits": 2, "act_bits": 2, "pe": 2, "simd": 1},
        {"name": "pool0", "op": "maxpool", "kernel": 2},
        {"name": "fc0", "op": "fc", "out_features": 10, "weight_bits": 2, "act_bits": None,
         "pe": 2, "simd": 4},
    ],
}

#: a structurally valid latency table of another (fictitious) CPU; it covers almost nothing of
#: the default space, so a run that gets past the flags stops at the coverage check
TABLE: dict[str, Any] = {
    "schema": 1, "kind": "codesign-latency-table",
    "machine": {"device_kind": "cpu", "runtime": "onnxruntime", "cpu_model": "no such cpu"},
    "protocol": {"batch": 1, "threads": 1, "rounds": 1, "warmup_runs": 1, "min_repeats": 5,
                 "round_s": 0.001, "max_repeats": 10, "calibration": 4, "calibration_seed": 1},
    "space": {"name": "cnv", "config": {}},
    "overhead": {"form": "alpha + beta*sum + gamma*n_ops", "alpha_ms": 0.01, "beta": 1.0,
                 "gamma_ms": 0.0, "residual_rel_std": 0.05, "mape_fit": 0.01, "mape_loo": 0.02,
                 "n": 5, "calibration": [{"ops": ["input|1x28x28|b8"], "n_ops": 1,
                                          "ops_sum_ms": 0.01, "median_ms": 0.01}] * 5},
    "build": {},
    "ops": {"input|1x28x28|b8": {"median_ms": 0.01, "q1_ms": 0.009, "q3_ms": 0.011, "n": 5}},
}


def _design(i: int = 0, **changes: Any) -> dict[str, Any]:
    d = {"id": i, "accuracy": 0.8 + 0.01 * i, "lut": 1000 + 100 * i, "bram18": 2, "dsp": 0,
         "fps": 1e4, "feasible": True, "on_front": True, "latency_ms": None,
         "candidate": {}, "network": copy.deepcopy(NET)}
    d.update(changes)
    return d


PARETO: dict[str, Any] = {"schema": 1, "request": {}, "designs": [_design(0), _design(1)],
                          "best": 1, "knee": 0}

#: calibration rows (three, the least a fit accepts)
ROWS: list[dict[str, Any]] = [
    {"name": f"r{i}", "device": "pynq-z1", "clock_mhz": 100, "network": copy.deepcopy(NET),
     "lut": 1000 + 300 * i, "bram18": 2 + i, "source": f"synthesis report {i}"}
    for i in range(3)]


class Workspace:
    """The case's folder: helpers write prepared files into it and return their paths."""

    def __init__(self, root: Path, idx_writer: Callable[..., Path] | None = None) -> None:
        self.root = root
        self._idx_writer = idx_writer

    def path(self, name: str) -> str:
        return str(self.root / name)

    def write(self, name: str, content: str | bytes | Any) -> str:
        p = self.root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        elif isinstance(content, str):
            p.write_text(content, encoding="utf-8")
        else:
            p.write_text(json.dumps(content, indent=1), encoding="utf-8")
        return str(p)

    def mkdir(self, name: str, files: dict[str, str | bytes] | None = None) -> str:
        p = self.root / name
        p.mkdir(parents=True, exist_ok=True)
        for n, c in (files or {}).items():
            self.write(f"{name}/{n}", c)
        return str(p)

    def link(self, name: str, target: str = "nowhere/at/all") -> str:
        p = self.root / name
        os.symlink(target, p)
        return str(p)

    @staticmethod
    def edited(base: Any, edit: Callable[[Any], Any] | None,
               replace: Callable[[Any], Any] | None = None) -> Any:
        """A deep copy of ``base`` edited in place by ``edit(doc)`` (its result is ignored), or
        replaced by ``replace(doc)``."""
        doc = copy.deepcopy(base)
        if edit is not None:
            edit(doc)
        if replace is not None:
            doc = replace(doc)
        return doc

    def net(self, edit: Callable[[Any], Any] | None = None, name: str = "net.json") -> str:
        """The base network with ``edit(doc)`` applied in place."""
        return self.write(name, self.edited(NET, edit))

    def layer(self, i: int, **changes: Any) -> str:
        """The base network with layer ``i``'s keys changed."""
        return self.net(lambda d: d["layers"][i].update(changes))

    def table(self, edit: Callable[[Any], Any] | None = None, name: str = "table.json") -> str:
        return self.write(name, self.edited(TABLE, edit))

    def rows(self, edit: Callable[[Any], Any] | None = None, name: str = "rows.json",
             replace: Callable[[Any], Any] | None = None) -> str:
        return self.write(name, self.edited(ROWS, edit, replace))

    def csv(self, text: str | bytes, name: str = "rows.csv") -> str:
        """A CSV of rows; its ``network_path`` entries may name ``net.json`` (written here)."""
        self.net()
        return self.write(name, text)

    def run(self, pareto: Any = None, name: str = "run", raw: str | bytes | None = None) -> str:
        """A run folder with ``pareto.json`` (the base one, ``pareto``, or ``raw`` bytes)."""
        folder = self.mkdir(name)
        self.write(f"{name}/pareto.json",
                   raw if raw is not None else (PARETO if pareto is None else pareto))
        return folder

    def pareto(self, edit: Callable[[Any], Any], name: str = "run") -> str:
        return self.run(self.edited(PARETO, edit), name=name)

    def truncated(self, base: Any, name: str) -> str:
        text = json.dumps(base, indent=1)
        return self.write(name, text[: len(text) // 2])

    def data(self, name: str = "toy") -> str:
        """A tiny MNIST-format data set (idx .gz files, 300 training images)."""
        assert self._idx_writer is not None
        return str(self._idx_writer(self.root / name, n_train=300, n_test=100))

    def real_run(self, edit: Callable[[Path], Any] | None = None, name: str = "run") -> str:
        """A copy of a real finished tiny search (trained supernet, study, pareto.json; built
        once per session by :func:`_real_run`), with ``edit(folder)`` applied to the copy."""
        import shutil

        src = _real_run(self._idx_writer)
        dst = self.root / name
        shutil.copytree(src["run"], dst)
        if edit is not None:
            edit(dst)
        return str(dst)

    def real_search(self, *extra: str, run: str | None = None) -> list[str]:
        """The exact command line of the real run, resuming into ``run`` (default: ``run``)."""
        src = _real_run(self._idx_writer)
        return ["search", *src["args"], "--out", run or self.path("run"), *extra]

    def onnx(self, name: str = "model.onnx", **kw: Any) -> str:
        """A small QONNX model (Quant -> Conv -> Quant -> Flatten -> MatMul); ``kw``:
        ``in_shape``, ``stride``, ``bits``, ``conv_weight_shape``, ``plain`` (a valid ONNX model
        that is not a QONNX CNN: one Relu)."""
        import numpy as np
        import onnx
        from onnx import TensorProto, helper, numpy_helper

        def const(n: str, v: Any) -> Any:
            return numpy_helper.from_array(np.asarray(v, dtype=np.float32), n)

        in_shape = list(kw.get("in_shape", (1, 1, 4, 4)))
        if kw.get("plain"):
            nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
            inits: list[Any] = []
            out_shape = in_shape
        else:
            s = kw.get("stride", 1)
            inits = [const("s", 1.0), const("z", 0.0), const("b_in", kw.get("bits", 4.0)),
                     const("b_w", 2.0), const("W", np.ones(kw.get("conv_weight_shape",
                                                                   (2, 1, 3, 3)))),
                     const("W2", np.ones((8, 3)))]
            q = dict(domain="qonnx.custom_op.general")
            nodes = [helper.make_node("Quant", ["x", "s", "z", "b_in"], ["xq"], name="q_in", **q),
                     helper.make_node("Quant", ["W", "s", "z", "b_w"], ["Wq"], name="q_w", **q),
                     helper.make_node("Conv", ["xq", "Wq"], ["h"], name="conv",
                                      kernel_shape=[3, 3], strides=[s, s]),
                     helper.make_node("Quant", ["h", "s", "z", "b_w"], ["hq"], name="q_h", **q),
                     helper.make_node("Flatten", ["hq"], ["f"], name="flat"),
                     helper.make_node("Quant", ["W2", "s", "z", "b_w"], ["W2q"], name="q_w2",
                                      **q),
                     helper.make_node("MatMul", ["f", "W2q"], ["y"], name="fc")]
            out_shape = [1, 3]
        g = helper.make_graph(nodes, "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                              inits)
        data = helper.make_model(g).SerializeToString()
        if kw.get("truncate"):
            data = data[: len(data) // 2]
        return self.write(name, data)


@dataclass
class Case:
    """One bad input: ``argv(ws)`` builds the command line; ``field`` must be in the error line
    (with ``echo``, more substrings that must be there)."""

    id: str
    argv: Callable[[Workspace], list[str]]
    field: str
    echo: tuple[str, ...] = ()
    marks: tuple[Any, ...] = ()
    #: ``"module:function"`` entry points the case must not reach (replaced by a failure),
    #: besides the measuring ones every case guards; e.g. training for a search case whose
    #: input would otherwise be valid up to the checked field
    guard: tuple[str, ...] = ()


# damaged / foreign files, reused for every command that reads a file: name -> writer
def _damaged(ws: Workspace, kind: str, base: Any, name: str) -> str:
    if kind == "missing":
        return ws.path(name)
    if kind == "directory":
        return ws.mkdir(name)
    if kind == "broken-symlink":
        return ws.link(name)
    if kind == "empty":
        return ws.write(name, b"")
    if kind == "truncated":
        return ws.truncated(base, name)
    if kind == "binary":
        return ws.write(name, bytes(range(256)) * 4)
    if kind == "utf16":
        return ws.write(name, json.dumps(base).encode("utf-16"))
    if kind == "bad-utf8":
        return ws.write(name, b'{"name": "\xff\xfe\xc3\x28"}')
    if kind == "deep":
        return ws.write(name, "[" * 100_000 + "]" * 100_000)
    if kind == "huge-int":
        return ws.write(name, '{"x": 1' + "0" * 5000 + "}")
    if kind == "not-an-object":
        return ws.write(name, "[1, 2, 3]")
    raise ValueError(kind)


DAMAGE = ("missing", "directory", "broken-symlink", "empty", "truncated", "binary", "utf16",
          "bad-utf8", "deep", "huge-int", "not-an-object")


def _net_path(ws: Workspace) -> str:
    return ws.net()


# ------------------------------------------------------------------ top level and devices
TOP_CASES = [
    Case("top-no-command", lambda ws: [], "COMMAND"),
    Case("top-unknown-command", lambda ws: ["frobnicate"], "frobnicate"),
    Case("top-unknown-option", lambda ws: ["--bogus", "devices"], "--bogus"),
    Case("devices-extra-argument", lambda ws: ["devices", "extra"], "extra"),
    Case("devices-unknown-option", lambda ws: ["devices", "--csv"], "--csv"),
    Case("devices-json-with-value", lambda ws: ["devices", "--json=yes"], "--json"),
]

# ------------------------------------------------------------------ estimate
ESTIMATE_CASES = [
    # the network file itself
    *[Case(f"estimate-network-{k}", (lambda k: lambda ws: ["estimate", _damaged(
        ws, k, NET, "net.json")])(k), "network") for k in DAMAGE],
    Case("estimate-network-nan-literal", lambda ws: ["estimate", ws.write(
        "net.json", json.dumps(NET).replace('"out_channels": 4', '"out_channels": NaN'))],
        "network"),
    Case("estimate-network-infinity-literal", lambda ws: ["estimate", ws.write(
        "net.json", json.dumps(NET).replace('"height": 8', '"height": Infinity'))], "network"),
    Case("estimate-network-foreign-json", lambda ws: ["estimate", ws.table(name="net.json")],
         "network"),
    # wrong types and values of every field
    Case("estimate-layers-not-a-list", lambda ws: ["estimate", ws.net(
        lambda d: d.update(layers={"conv0": {}}))], "layers"),
    Case("estimate-layers-empty", lambda ws: ["estimate", ws.net(lambda d: d.update(layers=[]))],
         "layers"),
    Case("estimate-too-many-layers", lambda ws: ["estimate", ws.net(lambda d: d["layers"].extend(
        {"name": f"fc{i}", "op": "fc", "out_features": 10, "weight_bits": 2, "act_bits": 2}
        for i in range(1, 1100)))], "layers"),
    Case("fold-too-many-layers", lambda ws: ["fold", ws.net(lambda d: d["layers"].extend(
        {"name": f"fc{i}", "op": "fc", "out_features": 10, "weight_bits": 2, "act_bits": 2}
        for i in range(1, 1100))), "--target-fps", "100"], "layers"),
    Case("estimate-layer-not-an-object", lambda ws: ["estimate", ws.net(
        lambda d: d["layers"].insert(0, "conv"))], "layers[0]"),
    Case("estimate-unknown-top-key", lambda ws: ["estimate", ws.net(
        lambda d: d.update(extra=1))], "extra"),
    Case("estimate-unknown-layer-key", lambda ws: ["estimate", ws.layer(0, dilation=2)],
         "dilation"),
    Case("estimate-unknown-op", lambda ws: ["estimate", ws.layer(0, op="deconv")], "op"),
    Case("estimate-op-null", lambda ws: ["estimate", ws.layer(0, op=None)], "op"),
    Case("estimate-name-null", lambda ws: ["estimate", ws.layer(0, name=None)], "name"),
    Case("estimate-name-number", lambda ws: ["estimate", ws.layer(0, name=7)], "name"),
    Case("estimate-network-name-list", lambda ws: ["estimate", ws.net(
        lambda d: d.update(name=["x"]))], "name"),
    Case("estimate-duplicate-layer-names", lambda ws: ["estimate", ws.layer(2, name="conv0")],
         "duplicate"),
    Case("estimate-out-channels-string", lambda ws: ["estimate", ws.layer(0, out_channels="4")],
         "out_channels"),
    Case("estimate-out-channels-huge", lambda ws: ["estimate", ws.layer(
        0, out_channels=10 ** 12)], "out_channels"),
    Case("estimate-out-features-huge", lambda ws: ["estimate", ws.layer(
        2, out_features=10 ** 12)], "out_features"),
    Case("estimate-kernel-float", lambda ws: ["estimate", ws.layer(0, kernel=3.0)], "kernel"),
    Case("estimate-kernel-too-large", lambda ws: ["estimate", ws.layer(0, kernel=9)], "kernel"),
    Case("estimate-padding-negative", lambda ws: ["estimate", ws.layer(0, padding=-1)],
         "padding"),
    Case("estimate-padding-huge", lambda ws: ["estimate", ws.layer(0, padding=10 ** 9)],
         "padding"),
    Case("estimate-stride-zero", lambda ws: ["estimate", ws.layer(0, stride=0)], "stride"),
    Case("estimate-pe-bool", lambda ws: ["estimate", ws.layer(0, pe=True)], "pe"),
    Case("estimate-pe-illegal", lambda ws: ["estimate", ws.layer(0, pe=3)], "pe"),
    Case("estimate-simd-illegal", lambda ws: ["estimate", ws.layer(2, simd=7)], "simd"),
    Case("estimate-weight-bits-zero", lambda ws: ["estimate", ws.layer(0, weight_bits=0)],
         "weight_bits"),
    Case("estimate-act-bits-too-wide", lambda ws: ["estimate", ws.layer(0, act_bits=33)],
         "act_bits"),
    Case("estimate-act-bits-null-mid-network", lambda ws: ["estimate", ws.layer(0, act_bits=None)],
         "act_bits"),
    Case("estimate-pool-kernel-zero", lambda ws: ["estimate", ws.layer(1, kernel=0)], "kernel"),
    Case("estimate-conv-after-fc", lambda ws: ["estimate", ws.net(lambda d: d["layers"].append(
        {"name": "conv9", "op": "conv", "out_channels": 2, "kernel": 1, "weight_bits": 2,
         "act_bits": 2}))], "conv9"),
    Case("estimate-input-missing", lambda ws: ["estimate", ws.net(lambda d: d.pop("input"))],
         "input"),
    Case("estimate-input-channels-zero", lambda ws: ["estimate", ws.net(
        lambda d: d["input"].update(channels=0))], "input.channels"),
    Case("estimate-input-height-huge", lambda ws: ["estimate", ws.net(
        lambda d: d["input"].update(height=10 ** 12))], "input.height"),
    Case("estimate-input-bits-string", lambda ws: ["estimate", ws.net(
        lambda d: d["input"].update(bits="8"))], "input.bits"),
    Case("estimate-input-thresholding-string", lambda ws: ["estimate", ws.net(
        lambda d: d["input"].update(thresholding="yes"))], "input.thresholding"),
    # options
    Case("estimate-unknown-device", lambda ws: ["estimate", ws.net(), "--device", "pynq-z9"],
         "device"),
    Case("estimate-empty-device", lambda ws: ["estimate", ws.net(), "--device", ""], "device"),
    Case("estimate-unknown-toolflow", lambda ws: ["estimate", ws.net(), "--toolflow", "hls"],
         "toolflow"),
    Case("estimate-calibrated-other-lut-variant", lambda ws: [
        "estimate", ws.net(), "--lut-variant", "finn2022", "--calibrated"], "lut_variant"),
    Case("estimate-clock-zero", lambda ws: ["estimate", ws.net(), "--clock-mhz", "0"],
         "--clock-mhz"),
    Case("estimate-clock-inf", lambda ws: ["estimate", ws.net(), "--clock-mhz", "inf"],
         "--clock-mhz"),
    Case("estimate-clock-not-a-number", lambda ws: ["estimate", ws.net(), "--clock-mhz", "fast"],
         "--clock-mhz"),
    Case("estimate-target-fps-nan", lambda ws: ["estimate", ws.net(), "--target-fps", "nan"],
         "--target-fps"),
    Case("estimate-target-fps-negative", lambda ws: ["estimate", ws.net(), "--target-fps=-1e3"],
         "--target-fps", echo=("-1e3",)),
    Case("estimate-fifo-depth-negative", lambda ws: ["estimate", ws.net(), "--fifo-depth", "-1"],
         "fifo"),
    Case("estimate-fifo-depth-float", lambda ws: ["estimate", ws.net(), "--fifo-depth", "2.5"],
         "--fifo-depth"),
    Case("estimate-unknown-weight-mem", lambda ws: ["estimate", ws.net(), "--weight-mem", "dram"],
         "weight"),
    Case("estimate-uram-on-board-without", lambda ws: ["estimate", ws.net(), "--weight-mem",
                                                       "ultra"], "weight"),
    Case("estimate-unknown-io-profile", lambda ws: ["estimate", ws.net(), "--io-profile", "pcie"],
         "io"),
    Case("estimate-unknown-lut-variant", lambda ws: ["estimate", ws.net(), "--lut-variant", "x"],
         "lut"),
    # QONNX input
    Case("estimate-onnx-text", lambda ws: ["estimate", ws.write("m.onnx", "not onnx at all\n")],
         "network"),
    Case("estimate-onnx-empty", lambda ws: ["estimate", ws.write("m.onnx", b"")], "network"),
    Case("estimate-onnx-binary", lambda ws: ["estimate", ws.write(
        "m.onnx", bytes(range(256)) * 8)], "network"),
    Case("estimate-onnx-missing", lambda ws: ["estimate", ws.path("m.onnx")], "network"),
    Case("estimate-onnx-directory", lambda ws: ["estimate", ws.mkdir("m.onnx")], "network"),
    Case("estimate-onnx-truncated", lambda ws: ["estimate", ws.onnx(truncate=True)], "network"),
    Case("estimate-onnx-not-qonnx", lambda ws: ["estimate", ws.onnx(plain=True)], "relu"),
    Case("estimate-onnx-stride-zero", lambda ws: ["estimate", ws.onnx(stride=0)], "conv"),
    Case("estimate-onnx-input-huge", lambda ws: ["estimate", ws.onnx(
        in_shape=(1, 1, 10 ** 12, 4))], "input"),
    Case("estimate-onnx-bits-zero", lambda ws: ["estimate", ws.onnx(bits=0.0)], "q_in"),
    Case("estimate-onnx-scalar-weight", lambda ws: ["estimate", ws.onnx(conv_weight_shape=())],
         "conv"),
    # --calibrated MODEL.json
    *[Case(f"estimate-calibrated-{k}", (lambda k: lambda ws: ["estimate", ws.net(),
                                                              "--calibrated", _damaged(
        ws, k, {"schema": 1}, "cal.json")])(k), "calibrat") for k in
      ("missing", "directory", "truncated", "binary", "empty", "not-an-object")],
    Case("estimate-calibrated-foreign", lambda ws: ["estimate", ws.net(), "--calibrated",
                                                    ws.net(name="cal.json")], "calibration"),
    Case("estimate-calibrated-coefficients-list", lambda ws: [
        "estimate", ws.net(), "--calibrated", ws.write("cal.json", {
            "schema": 2, "version": "v", "coefficients": [], "loo": [], "settings": {}})],
        "calibration"),
    Case("estimate-calibrated-coefficients-not-objects", lambda ws: [
        "estimate", ws.net(), "--calibrated", ws.write("cal.json", _calibration(
            coefficients={"lut": [1, 2], "bram18": "x"}))], "calibration.coefficients"),
    Case("estimate-calibrated-coefficient-string", lambda ws: [
        "estimate", ws.net(), "--calibrated", ws.write("cal.json", _calibration(
            edit=lambda m: m["coefficients"]["lut"].update(a_mvau="1.0")))],
        "calibration.coefficients.lut.a_mvau"),
]


def _calibration(edit: Callable[[Any], Any] | None = None, **changes: Any) -> dict[str, Any]:
    """The packaged calibration model with ``changes``/``edit`` applied."""
    from hw_models.calibration import DEFAULT_MODEL_PATH

    model = json.loads(Path(DEFAULT_MODEL_PATH).read_text())
    model.update(copy.deepcopy(changes))
    if edit is not None:
        edit(model)
    return model


# ------------------------------------------------------------------ fold
FOLD_CASES = [
    Case("fold-target-fps-unreachable", lambda ws: ["fold", ws.net(), "--target-fps", "1e12"],
         "--target-fps", echo=("1e12",)),
    Case("fold-target-fps-huge", lambda ws: ["fold", ws.net(), "--target-fps", "1e300"],
         "--target-fps", echo=("1e300",)),
    Case("fold-target-fps-zero", lambda ws: ["fold", ws.net(), "--target-fps", "0"],
         "--target-fps"),
    Case("fold-target-fps-inf", lambda ws: ["fold", ws.net(), "--target-fps", "inf"],
         "--target-fps"),
    Case("fold-target-fps-nan", lambda ws: ["fold", ws.net(), "--target-fps", "nan"],
         "--target-fps"),
    Case("fold-target-fps-word", lambda ws: ["fold", ws.net(), "--target-fps", "fast"],
         "--target-fps"),
    Case("fold-target-fps-missing", lambda ws: ["fold", ws.net()], "--target-fps"),
    Case("fold-clock-negative", lambda ws: ["fold", ws.net(), "--target-fps", "100",
                                            "--clock-mhz", "-100"], "--clock-mhz"),
    Case("fold-clock-huge-target-unreachable", lambda ws: [
        "fold", ws.net(), "--target-fps", "1e200", "--clock-mhz", "1e-100"], "--target-fps",
        echo=("1e200",)),
    Case("fold-unknown-device", lambda ws: ["fold", ws.net(), "--target-fps", "100", "--device",
                                            "zcu999"], "device"),
    Case("fold-unknown-lut-variant", lambda ws: ["fold", ws.net(), "--target-fps", "100",
                                                 "--lut-variant", "nope"], "lut"),
    Case("fold-network-truncated", lambda ws: ["fold", ws.truncated(NET, "net.json"),
                                               "--target-fps", "100"], "network"),
    Case("fold-network-deep", lambda ws: ["fold", _damaged(ws, "deep", NET, "net.json"),
                                          "--target-fps", "100"], "network"),
    Case("fold-network-out-channels-huge", lambda ws: ["fold", ws.layer(0, out_channels=10 ** 12),
                                                       "--target-fps", "100"], "out_channels"),
    Case("fold-network-directory", lambda ws: ["fold", ws.mkdir("net.json"), "--target-fps",
                                               "100"], "network"),
    Case("fold-out-existing-directory", lambda ws: ["fold", ws.net(), "--target-fps", "100",
                                                    "--out", ws.mkdir("folded")], "--out"),
    Case("fold-out-under-a-file", lambda ws: ["fold", ws.net(), "--target-fps", "100", "--out",
                                              ws.write("plain.txt", "x") + "/folded.json"],
         "--out"),
    Case("fold-out-and-unreachable-target", lambda ws: [
        "fold", ws.net(), "--target-fps", "1e12", "--out", ws.path("folded.json")],
        "--target-fps"),
    Case("fold-objective-unknown", lambda ws: ["fold", ws.net(), "--target-fps", "100",
                                               "--objective", "area"], "--objective"),
    Case("fold-weighted-without-weights", lambda ws: ["fold", ws.net(), "--target-fps", "100",
                                                      "--objective", "weighted"], "--weights"),
    Case("fold-weights-without-weighted", lambda ws: ["fold", ws.net(), "--target-fps", "100",
                                                      "--weights", "1,2,3"], "--weights"),
    Case("fold-weights-two-values", lambda ws: ["fold", ws.net(), "--target-fps", "100",
                                                "--objective", "weighted", "--weights", "1,2"],
         "--weights"),
    Case("fold-weights-words", lambda ws: ["fold", ws.net(), "--target-fps", "100",
                                           "--objective", "weighted", "--weights", "a,b,c"],
         "--weights"),
    Case("fold-weights-nan", lambda ws: ["fold", ws.net(), "--target-fps", "100",
                                         "--objective", "weighted", "--weights", "nan,1,1"],
         "--weights"),
    Case("fold-weights-inf", lambda ws: ["fold", ws.net(), "--target-fps", "100",
                                         "--objective", "weighted", "--weights", "1,inf,1"],
         "--weights"),
    Case("fold-weights-negative", lambda ws: ["fold", ws.net(), "--target-fps", "100",
                                              "--objective", "weighted", "--weights", "-1,1,1"],
         "--weights"),
    Case("fold-weights-all-zero", lambda ws: ["fold", ws.net(), "--target-fps", "100",
                                              "--objective", "weighted", "--weights", "0,0,0"],
         "--weights"),
    Case("fold-weights-empty", lambda ws: ["fold", ws.net(), "--target-fps", "100",
                                           "--objective", "weighted", "--weights", ""],
         "--weights"),
    Case("fold-sweep-without-out", lambda ws: ["fold", ws.net(), "--sweep"], "--out"),
    Case("fold-sweep-with-target", lambda ws: ["fold", ws.net(), "--sweep", "--target-fps", "10",
                                               "--out", ws.path("sweep")], "--target-fps"),
    Case("fold-sweep-out-existing-file", lambda ws: ["fold", ws.net(), "--sweep", "--out",
                                                     ws.write("sweep", "a file\n")], "--out"),
    Case("fold-sweep-out-foreign-directory", lambda ws: [
        "fold", ws.net(), "--sweep", "--out", ws.mkdir("docs", {"thesis.tex": "precious\n"})],
        "--out"),
    Case("fold-sweep-out-foreign-next-to-sweep", lambda ws: [
        "fold", ws.net(), "--sweep", "--out", ws.mkdir("sweep", {
            "sweep.json": "{}", "sweep.png": b"\x89PNG", "notes.txt": "mine"})], "--out"),
    Case("fold-sweep-out-sweep-json-is-a-directory", lambda ws: [
        "fold", ws.net(), "--sweep", "--out", ws.mkdir("sweep/sweep.json") and ws.path("sweep")],
        "--out"),
    Case("fold-sweep-out-broken-symlink", lambda ws: ["fold", ws.net(), "--sweep", "--out",
                                                      ws.link("sweep")], "--out"),
    Case("fold-sweep-max-points-one", lambda ws: ["fold", ws.net(), "--sweep", "--max-points",
                                                  "1", "--out", ws.path("sweep")], "--max-points"),
    Case("fold-sweep-max-points-nan", lambda ws: ["fold", ws.net(), "--sweep", "--max-points",
                                                  "nan", "--out", ws.path("sweep")],
         "--max-points"),
    Case("fold-sweep-weighted-bad-weights", lambda ws: [
        "fold", ws.net(), "--sweep", "--objective", "weighted", "--weights", "1,x,1", "--out",
        ws.path("sweep")], "--weights"),
    Case("fold-sweep-unknown-device", lambda ws: ["fold", ws.net(), "--sweep", "--device",
                                                  "nope", "--out", ws.path("sweep")], "device"),
]

# ------------------------------------------------------------------ calibrate
CALIBRATE_CASES = [
    *[Case(f"calibrate-data-{k}", (lambda k: lambda ws: ["calibrate", "--data", _damaged(
        ws, k, ROWS, "rows.json")])(k), "rows[0]" if k == "not-an-object" else "data")
      for k in DAMAGE],
    Case("calibrate-data-nan-literal", lambda ws: ["calibrate", "--data", ws.write(
        "rows.json", json.dumps(ROWS).replace('"lut": 1000', '"lut": NaN'))], "data"),
    Case("calibrate-rows-not-a-list", lambda ws: ["calibrate", "--data", ws.write(
        "rows.json", {"rows": {"r0": ROWS[0]}})], "rows"),
    Case("calibrate-row-not-an-object", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r.__setitem__(1, "r1"))], "rows[1]"),
    Case("calibrate-row-missing-lut", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r[0].pop("lut"))], "rows[0].lut"),
    Case("calibrate-lut-string", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r[0].update(lut="many"))], "rows[0].lut"),
    Case("calibrate-lut-negative", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r[0].update(lut=-5))], "rows[0].lut"),
    Case("calibrate-lut-list", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r[0].update(lut=[1]))], "rows[0].lut"),
    Case("calibrate-bram18-huge-float", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r[0].update(bram18=1e400))], "data"),
    Case("calibrate-clock-zero", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r[0].update(clock_mhz=0))], "rows[0].clock_mhz"),
    Case("calibrate-unknown-device", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r[2].update(device="pynq-z9"))], "device"),
    Case("calibrate-device-null", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r[2].update(device=None))], "device"),
    Case("calibrate-network-string", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r[1].update(network="net.json"))], "rows[1].network"),
    Case("calibrate-network-bad-field", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r[1]["network"]["layers"][0].update(kernel="3"))], "rows[1].network"),
    Case("calibrate-row-without-source", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r[1].pop("source"))], "rows[1].source"),
    Case("calibrate-row-empty-source", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r[2].update(source=""))], "rows[2].source"),
    Case("calibrate-row-unknown-op", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r[0]["network"]["layers"][0].update(op="attention"))], "op"),
    Case("calibrate-too-few-rows", lambda ws: ["calibrate", "--data", ws.rows(
        replace=lambda r: r[:2])], "rows"),
    Case("calibrate-duplicate-names", lambda ws: ["calibrate", "--data", ws.rows(
        lambda r: r[1].update(name="r0"))], "name"),
    Case("calibrate-csv-missing-column", lambda ws: ["calibrate", "--data", ws.csv(
        "name,device,network_path,lut\nr0,pynq-z1,net.json,1000\n")], "bram18"),
    Case("calibrate-csv-empty", lambda ws: ["calibrate", "--data", ws.csv("")], "csv"),
    Case("calibrate-csv-binary", lambda ws: ["calibrate", "--data", ws.csv(
        bytes(range(256)) * 4)], "data"),
    Case("calibrate-csv-bad-utf8", lambda ws: ["calibrate", "--data", ws.csv(
        b"name,device,clock_mhz,network_path,lut,bram18,source\n\xff\xfe,pynq-z1,,net.json,1,1,x\n")],
        "data"),
    Case("calibrate-csv-huge-field", lambda ws: ["calibrate", "--data", ws.csv(
        "name,device,clock_mhz,network_path,lut,bram18,source\n" + "x" * 200_000 + ",pynq-z1,,"
        "net.json,1,1,x\n")], "data"),
    Case("calibrate-csv-network-missing", lambda ws: ["calibrate", "--data", ws.csv(
        "name,device,clock_mhz,network_path,lut,bram18,source\nr0,pynq-z1,,nope.json,1000,2,x\n")],
        "network_path"),
    Case("calibrate-csv-network-damaged", lambda ws: ["calibrate", "--data", ws.write(
        "bad.json", "{") and ws.csv(
        "name,device,clock_mhz,network_path,lut,bram18,source\nr0,pynq-z1,,bad.json,1000,2,x\n")],
        "network_path"),
    Case("calibrate-csv-lut-word", lambda ws: ["calibrate", "--data", ws.csv(
        "name,device,clock_mhz,network_path,lut,bram18,source\nr0,pynq-z1,,net.json,lots,2,x\n")],
        "rows[0].lut"),
    Case("calibrate-out-existing-directory", lambda ws: ["calibrate", "--out", ws.mkdir("model")],
         "--out"),
    Case("calibrate-out-under-a-file", lambda ws: ["calibrate", "--out", ws.write(
        "plain.txt", "x") + "/model.json"], "--out"),
    Case("calibrate-unknown-option", lambda ws: ["calibrate", "--rows", "x"], "--rows"),
]

# ------------------------------------------------------------------ latency build / validate
_ALLOW = "--allow-other-machine"
LATENCY_CASES = [
    Case("latency-no-subcommand", lambda ws: ["latency"], "SUBCOMMAND"),
    Case("latency-unknown-subcommand", lambda ws: ["latency", "measure"], "measure"),
    # build
    Case("latency-build-unknown-device", lambda ws: ["latency", "build", "--device", "tpu",
                                                     "--out", ws.path("t.json")], "--device"),
    Case("latency-build-no-out", lambda ws: ["latency", "build", "--device", "cpu"], "--out"),
    Case("latency-build-shape-two-dims", lambda ws: ["latency", "build", "--device", "cpu",
                                                     "--input-shape", "28x28", "--out",
                                                     ws.path("t.json")], "input-shape"),
    Case("latency-build-shape-zero", lambda ws: ["latency", "build", "--device", "cpu",
                                                 "--input-shape", "0x28x28", "--out",
                                                 ws.path("t.json")], "input-shape"),
    Case("latency-build-shape-words", lambda ws: ["latency", "build", "--device", "cpu",
                                                  "--input-shape", "axbxc", "--out",
                                                  ws.path("t.json")], "input-shape"),
    Case("latency-build-shape-huge", lambda ws: ["latency", "build", "--device", "cpu",
                                                 "--input-shape", "1x99999999999x28", "--out",
                                                 ws.path("t.json")], "input-shape"),
    Case("latency-build-shape-float", lambda ws: ["latency", "build", "--device", "cpu",
                                                  "--input-shape", "1x28.5x28", "--out",
                                                  ws.path("t.json")], "input-shape"),
    Case("latency-build-unknown-space", lambda ws: ["latency", "build", "--device", "cpu",
                                                    "--space", "resnet", "--out",
                                                    ws.path("t.json")], "space"),
    Case("latency-build-num-classes-zero", lambda ws: ["latency", "build", "--device", "cpu",
                                                       "--num-classes", "0", "--out",
                                                       ws.path("t.json")], "num-classes"),
    Case("latency-build-threads-zero", lambda ws: ["latency", "build", "--device", "cpu",
                                                   "--threads", "0", "--out", ws.path("t.json")],
         "threads"),
    Case("latency-build-threads-negative", lambda ws: ["latency", "build", "--device", "cpu",
                                                       "--threads", "-1", "--out",
                                                       ws.path("t.json")], "threads"),
    Case("latency-build-threads-word", lambda ws: ["latency", "build", "--device", "cpu",
                                                   "--threads", "all", "--out",
                                                   ws.path("t.json")], "--threads"),
    Case("latency-build-batch-zero", lambda ws: ["latency", "build", "--device", "cpu",
                                                 "--batch", "0", "--out", ws.path("t.json")],
         "batch"),
    Case("latency-build-batch-negative", lambda ws: ["latency", "build", "--device", "cpu",
                                                     "--batch", "-1", "--out",
                                                     ws.path("t.json")], "batch"),
    Case("latency-build-rounds-zero", lambda ws: ["latency", "build", "--device", "cpu",
                                                  "--rounds", "0", "--out", ws.path("t.json")],
         "rounds"),
    Case("latency-build-round-s-nan", lambda ws: ["latency", "build", "--device", "cpu",
                                                  "--round-s", "nan", "--out",
                                                  ws.path("t.json")], "round-s"),
    Case("latency-build-round-s-inf", lambda ws: ["latency", "build", "--device", "cpu",
                                                  "--round-s", "inf", "--out",
                                                  ws.path("t.json")], "round-s"),
    Case("latency-build-round-s-zero", lambda ws: ["latency", "build", "--device", "cpu",
                                                   "--round-s", "0", "--out", ws.path("t.json")],
         "round-s"),
    Case("latency-build-calibration-two", lambda ws: ["latency", "build", "--device", "cpu",
                                                      "--calibration", "2", "--out",
                                                      ws.path("t.json")], "calibration"),
    Case("latency-build-out-existing-directory", lambda ws: [
        "latency", "build", "--device", "cpu", "--out", ws.mkdir("t.json")], "out"),
    Case("latency-build-out-under-a-file", lambda ws: [
        "latency", "build", "--device", "cpu", "--out", ws.write("plain.txt", "x") + "/t.json"],
        "out"),
    Case("latency-build-update-missing", lambda ws: [
        "latency", "build", "--device", "cpu", "--update", "--out", ws.path("t.json")],
        "update"),
    Case("latency-build-update-truncated", lambda ws: [
        "latency", "build", "--device", "cpu", "--update", "--out",
        ws.truncated(TABLE, "t.json")], "out"),
    Case("latency-build-update-foreign", lambda ws: [
        "latency", "build", "--device", "cpu", "--update", "--out", ws.net(name="t.json")],
        "out"),
    Case("latency-build-update-other-machine", lambda ws: [
        "latency", "build", "--device", "cpu", "--update", "--out", ws.table(name="t.json")],
        "out"),
    Case("latency-build-update-other-threads", lambda ws: [
        "latency", "build", "--device", "cpu", "--update", "--threads", "2", _ALLOW, "--out",
        ws.table(name="t.json")], "threads"),
    # validate: the table
    *[Case(f"latency-validate-table-{k}", (lambda k: lambda ws: [
        "latency", "validate", _damaged(ws, k, TABLE, "t.json")])(k), "TABLE") for k in DAMAGE],
    Case("latency-validate-table-foreign", lambda ws: ["latency", "validate",
                                                       ws.net(name="t.json")], "TABLE"),
    Case("latency-validate-table-schema", lambda ws: ["latency", "validate", ws.table(
        lambda t: t.update(schema=2))], "TABLE.schema"),
    Case("latency-validate-table-ops-empty", lambda ws: ["latency", "validate", ws.table(
        lambda t: t.update(ops={}))], "TABLE.ops"),
    Case("latency-validate-table-ops-list", lambda ws: ["latency", "validate", ws.table(
        lambda t: t.update(ops=[1, 2]))], "TABLE.ops"),
    Case("latency-validate-table-op-negative", lambda ws: ["latency", "validate", ws.table(
        lambda t: t["ops"]["input|1x28x28|b8"].update(median_ms=-1))], "TABLE.ops"),
    Case("latency-validate-table-op-string", lambda ws: ["latency", "validate", ws.table(
        lambda t: t["ops"]["input|1x28x28|b8"].update(q1_ms="0.1"))], "TABLE.ops"),
    Case("latency-validate-table-op-count-string", lambda ws: ["latency", "validate", ws.table(
        lambda t: t["ops"]["input|1x28x28|b8"].update(n="five"))], "TABLE.ops"),
    Case("latency-validate-table-op-config-junk", lambda ws: ["latency", "validate", ws.table(
        lambda t: t["ops"]["input|1x28x28|b8"].update(config={"op": "input",
                                                                "in_shape": "abc"}))],
        "TABLE.ops"),
    Case("latency-validate-table-nan-literal", lambda ws: ["latency", "validate", ws.write(
        "t.json", json.dumps(TABLE).replace('"alpha_ms": 0.01', '"alpha_ms": NaN'))], "TABLE"),
    Case("latency-validate-table-device-kind", lambda ws: ["latency", "validate", ws.table(
        lambda t: t["machine"].update(device_kind="tpu"))], "TABLE.machine.device_kind"),
    Case("latency-validate-table-machine-list", lambda ws: ["latency", "validate", ws.table(
        lambda t: t.update(machine=["cpu"]))], "TABLE.machine"),
    Case("latency-validate-table-threads-zero", lambda ws: ["latency", "validate", ws.table(
        lambda t: t["protocol"].update(threads=0))], "TABLE.protocol.threads"),
    Case("latency-validate-table-calibration-too-few", lambda ws: ["latency", "validate", ws.table(
        lambda t: t["overhead"].update(calibration=t["overhead"]["calibration"][:2]))],
        "TABLE.overhead.calibration"),
    Case("latency-validate-table-calibration-missing", lambda ws: ["latency", "validate", ws.table(
        lambda t: t["overhead"].pop("calibration"))], "TABLE.overhead.calibration"),
    Case("latency-validate-table-form-unknown", lambda ws: ["latency", "validate", ws.table(
        lambda t: t["overhead"].update(form="magic"))], "TABLE.overhead.form"),
    Case("latency-validate-table-kind-form-no-betas", lambda ws: ["latency", "validate", ws.table(
        lambda t: t["overhead"].update(form="alpha + sum_k beta_k*sum_k + gamma*n_ops",
                                       calibration=t["overhead"]["calibration"] * 3))],
        "TABLE.overhead.beta_by_kind"),
    Case("latency-validate-other-threads", lambda ws: ["latency", "validate", _ALLOW,
                                                       "--threads", "2", ws.table()], "threads"),
    Case("latency-validate-other-batch", lambda ws: ["latency", "validate", _ALLOW,
                                                     "--batch", "8", ws.table()], "batch"),
    Case("latency-validate-threads-zero", lambda ws: ["latency", "validate", "--threads", "0",
                                                      ws.table()], "threads"),
    Case("latency-validate-table-space-config-junk", lambda ws: [
        "latency", "validate", _ALLOW, ws.table(
            lambda t: t["space"].update(config={"input_shape": "big"}))], "space"),
    Case("latency-validate-table-other-machine", lambda ws: ["latency", "validate", ws.table()],
         "TABLE"),
    Case("latency-validate-table-lacks-ops", lambda ws: ["latency", "validate", _ALLOW,
                                                         ws.table()], "latency-table"),
    # validate: flags (every one refused before anything is measured)
    Case("latency-validate-samples-zero", lambda ws: ["latency", "validate", ws.table(),
                                                      "--samples", "0"], "samples"),
    Case("latency-validate-samples-negative", lambda ws: ["latency", "validate", ws.table(),
                                                          "--samples", "-1"], "samples"),
    Case("latency-validate-samples-float", lambda ws: ["latency", "validate", ws.table(),
                                                       "--samples", "1.5"], "--samples"),
    Case("latency-validate-seed-word", lambda ws: ["latency", "validate", ws.table(),
                                                   "--seed", "x"], "--seed"),
    Case("latency-validate-seed-negative", lambda ws: ["latency", "validate", ws.table(),
                                                       "--seed", "-1"], "seed"),
    Case("latency-validate-other-device", lambda ws: ["latency", "validate", ws.table(),
                                                      "--device", "cuda"], "device"),
    Case("latency-validate-other-runtime", lambda ws: ["latency", "validate", ws.table(),
                                                       "--runtime", "torch"], "runtime"),
    Case("latency-validate-shape-bad", lambda ws: ["latency", "validate", _ALLOW, ws.table(),
                                                   "--input-shape", "1x28x"], "input-shape"),
    Case("latency-validate-unknown-space", lambda ws: ["latency", "validate", _ALLOW, ws.table(),
                                                       "--space", "resnet"], "space"),
    Case("latency-validate-num-classes-negative", lambda ws: [
        "latency", "validate", _ALLOW, ws.table(), "--num-classes", "-3"], "num-classes"),
    Case("latency-validate-plot-existing-directory", lambda ws: [
        "latency", "validate", _ALLOW, ws.table(), "--plot", ws.mkdir("plot.png")], "plot"),
    Case("latency-validate-plot-under-a-file", lambda ws: [
        "latency", "validate", _ALLOW, ws.table(), "--plot",
        ws.write("plain.txt", "x") + "/p.png"], "plot"),
]

# ------------------------------------------------------------------ compare
COMPARE_CASES = [
    Case("compare-no-run", lambda ws: ["compare", "--out", ws.path("c.png")], "RUN_DIR"),
    Case("compare-no-out", lambda ws: ["compare", ws.run()], "--out"),
    Case("compare-missing-run", lambda ws: ["compare", ws.path("nope"), "--out",
                                            ws.path("c.png")], "RUN_DIR"),
    Case("compare-run-is-a-file", lambda ws: ["compare", ws.write("run", "x"), "--out",
                                              ws.path("c.png")], "RUN_DIR"),
    Case("compare-one-missing-of-two", lambda ws: ["compare", ws.run(), ws.path("nope"),
                                                   "--out", ws.path("c.png")], "RUN_DIR"),
    *[Case(f"compare-pareto-{k}", (lambda k: lambda ws: [
        "compare", ws.mkdir("run") and _damaged(ws, k, PARETO, "run/pareto.json") and
        ws.path("run"), "--out", ws.path("c.png")])(k), "RUN_DIR") for k in
      ("directory", "broken-symlink", "empty", "truncated", "binary", "utf16", "bad-utf8",
       "deep", "not-an-object")],
    Case("compare-pareto-nan-literal", lambda ws: ["compare", ws.run(raw=json.dumps(
        PARETO).replace('"accuracy": 0.8,', '"accuracy": NaN,')), "--out", ws.path("c.png")],
        "RUN_DIR"),
    Case("compare-pareto-foreign", lambda ws: ["compare", ws.run(NET), "--out", ws.path("c.png")],
         "schema"),
    Case("compare-pareto-schema", lambda ws: ["compare", ws.pareto(lambda p: p.update(schema=9)),
                                              "--out", ws.path("c.png")], "schema"),
    Case("compare-designs-missing", lambda ws: ["compare", ws.pareto(lambda p: p.pop("designs")),
                                                "--out", ws.path("c.png")], "designs"),
    Case("compare-designs-not-a-list", lambda ws: ["compare", ws.pareto(
        lambda p: p.update(designs={"0": _design()})), "--out", ws.path("c.png")], "designs"),
    Case("compare-design-not-an-object", lambda ws: ["compare", ws.pareto(
        lambda p: p.update(designs=[1, 2])), "--out", ws.path("c.png")], "designs[0]"),
    Case("compare-design-empty", lambda ws: ["compare", ws.pareto(
        lambda p: p.update(designs=[{}])), "--out", ws.path("c.png")], "designs[0]"),
    Case("compare-design-lacks-accuracy", lambda ws: ["compare", ws.pareto(
        lambda p: p["designs"][1].pop("accuracy")), "--out", ws.path("c.png")],
        "designs[1].accuracy"),
    Case("compare-design-accuracy-string", lambda ws: ["compare", ws.pareto(
        lambda p: p["designs"][0].update(accuracy="0.8")), "--out", ws.path("c.png")],
        "designs[0].accuracy"),
    Case("compare-design-accuracy-above-one", lambda ws: ["compare", ws.pareto(
        lambda p: p["designs"][0].update(accuracy=80)), "--out", ws.path("c.png")],
        "designs[0].accuracy"),
    Case("compare-design-feasible-string", lambda ws: ["compare", ws.pareto(
        lambda p: p["designs"][0].update(feasible="yes")), "--out", ws.path("c.png")],
        "designs[0].feasible"),
    Case("compare-design-lut-string", lambda ws: ["compare", ws.pareto(
        lambda p: p["designs"][0].update(lut="1k")), "--out", ws.path("c.png")],
        "designs[0].lut"),
    Case("compare-design-fps-negative", lambda ws: ["compare", ws.pareto(
        lambda p: p["designs"][0].update(fps=-1)), "--objective", "fps", "--out",
        ws.path("c.png")], "designs[0].fps"),
    Case("compare-design-lut-missing", lambda ws: ["compare", ws.pareto(
        lambda p: p["designs"][0].pop("lut")), "--objective", "lut", "--out", ws.path("c.png")],
        "lut"),
    Case("compare-reference-not-a-pair", lambda ws: ["compare", ws.run(), "--reference", "0.8",
                                                     "--out", ws.path("c.png")], "reference"),
    Case("compare-reference-accuracy-one", lambda ws: ["compare", ws.run(), "--reference",
                                                       "1,30000", "--out", ws.path("c.png")],
         "reference"),
    Case("compare-reference-nan", lambda ws: ["compare", ws.run(), "--reference", "0.5,nan",
                                              "--out", ws.path("c.png")], "reference"),
    Case("compare-html-beside-is-a-directory", lambda ws: ws.mkdir("c.html") and [
        "compare", ws.run(), "--out", ws.path("c.png")], "--out"),
    Case("report-no-run", lambda ws: ["report", ws.path("nope")], "RUN_DIR"),
    Case("report-run-is-a-file", lambda ws: ["report", ws.write("run", "x")], "RUN_DIR"),
    Case("report-pareto-schema", lambda ws: ["report", ws.pareto(lambda p: p.update(schema=9))],
         "schema"),
    Case("compare-no-latency", lambda ws: ["compare", ws.run(), "--objective", "latency_ms",
                                           "--out", ws.path("c.png")], "latency_ms"),
    Case("compare-unknown-objective", lambda ws: ["compare", ws.run(), "--objective", "bram",
                                                  "--out", ws.path("c.png")], "--objective"),
    Case("compare-out-existing-directory", lambda ws: ["compare", ws.run(), "--out",
                                                       ws.mkdir("c.png")], "--out"),
    Case("compare-out-under-a-file", lambda ws: ["compare", ws.run(), "--out",
                                                 ws.write("plain.txt", "x") + "/c.png"],
         "--out"),
    Case("compare-latency-table-missing", lambda ws: ["compare", ws.run(), "--latency-table",
                                                      ws.path("t.json"), "--out",
                                                      ws.path("c.png")], "latency-table"),
    Case("compare-latency-table-directory", lambda ws: ["compare", ws.run(), "--latency-table",
                                                        ws.mkdir("t.json"), "--out",
                                                        ws.path("c.png")], "latency-table"),
    Case("compare-latency-table-truncated", lambda ws: [
        "compare", ws.run(), "--latency-table", ws.truncated(TABLE, "t.json"), "--out",
        ws.path("c.png")], "latency-table"),
    Case("compare-latency-table-foreign", lambda ws: [
        "compare", ws.run(), "--latency-table", ws.net(name="t.json"), "--out",
        ws.path("c.png")], "latency-table"),
    Case("compare-design-network-malformed", lambda ws: [
        "compare", ws.pareto(lambda p: p["designs"][0]["network"]["layers"][0].update(
            kernel="3")), "--latency-table", ws.table(), "--out", ws.path("c.png")],
        "designs[0].network"),
    Case("compare-design-network-string", lambda ws: [
        "compare", ws.pareto(lambda p: p["designs"][0].update(network="tiny")),
        "--latency-table", ws.table(), "--out", ws.path("c.png")], "designs[0].network"),
    Case("compare-design-op-not-in-table", lambda ws: [
        "compare", ws.run(), "--latency-table", ws.table(), "--out", ws.path("c.png")],
        "latency-table"),
]

# ------------------------------------------------------------------ a real finished run
_REAL: dict[str, Any] = {}


def _real_run(idx_writer: Callable[..., Path]) -> dict[str, Any]:
    """Train and search a tiny run once per session (a subprocess, ~10 s), in a private folder
    outside every workspace: ``{"run": folder, "args": search flags without --out}``."""
    if not _REAL:
        import atexit
        import shutil
        import subprocess
        import sys
        import tempfile

        base = Path(tempfile.mkdtemp(prefix="codesign-real-run-"))
        atexit.register(shutil.rmtree, base, True)
        data = idx_writer(base / "toy", n_train=300, n_test=100)
        args = ["--dataset", "mnist", "--data-dir", str(data), "--epochs", "1", "--trials", "4",
                "--population", "4", "--batch-size", "32", "--val-size", "50",
                "--screen-pool", "0", "--max-lut", "30000", "--min-fps", "10000",
                "--no-progress"]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        done = subprocess.run([sys.executable, "-m", "codesign", "search", *args, "--out",
                               str(base / "run")], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        _REAL.update(run=base / "run", args=args)
    return _REAL


def _replace(file: str, content: bytes | Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        p = run / file
        old = p.read_bytes() if p.is_file() else b""
        p.write_bytes(content(old) if callable(content) else content)
    return edit


def _pareto_edit(change: Callable[[dict], Any]) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        d = json.loads((run / "pareto.json").read_text())
        change(d)
        (run / "pareto.json").write_text(json.dumps(d))
    return edit


def _malicious_pickle(marker: str) -> bytes:
    """A pickle that would create ``marker`` if anything unpickled it with code allowed."""
    import pickle

    class Boom:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    return pickle.dumps({"model": Boom()})


def _foreign_checkpoint(run: Path) -> None:
    import torch

    torch.save({"model": {"blocks.x.weight": torch.zeros(3)}, "optimizer": {}, "scheduler": {},
                "epoch": 1, "history": [], "schema": 2,
                "train_config": torch.load(run / "supernet.pt", weights_only=True)["train_config"]},
               run / "supernet.pt")


def _list_checkpoint(run: Path) -> None:
    import torch

    torch.save([1, 2, 3], run / "supernet.pt")


def _edit_checkpoint(part: str, bad: Any) -> Callable[[Path], None]:
    """The run's checkpoint with ``part`` replaced by ``bad`` and the training unfinished."""
    def edit(run: Path) -> None:
        import torch

        state = torch.load(run / "supernet.pt", weights_only=True)
        state["epoch"] = 0
        state[part] = bad
        torch.save(state, run / "supernet.pt")
    return edit


class _HeldLock:
    """Holds the run lock of ``run`` in this process while the case runs (a second search)."""

    def __init__(self) -> None:
        self.lock = None

    def __call__(self, run: Path) -> None:
        from codesign.rundir import RunLock

        self.lock = RunLock(run).acquire()  # released when the case's objects are collected


_TRUNCATE = (lambda b: b[: len(b) // 3])
_RUN_GUARD = ("codesign.supernet.train:train_supernet",)


# ------------------------------------------------------------------ search and export
_NO_TRAINING = ("codesign.supernet:build_supernet",)


def _toy(ws: Workspace) -> list[str]:
    """``--dataset mnist --data-dir TOY`` plus small training settings."""
    return ["--dataset", "mnist", "--data-dir", ws.data(), "--epochs", "1", "--trials", "2",
            "--population", "2", "--batch-size", "32", "--val-size", "50", "--screen-pool", "0",
            "--no-progress"]


# Owned by the engineer of codesign/commands/{search,export}.py, codesign/request.py,
# codesign/search/loop.py, codesign/export.py: append your cases here.  Only cases that need no
# trained run are listed so far; none of them may start a training.
SEARCH_CASES = [
    Case("search-max-lut-nan", lambda ws: ["search", "--max-lut", "nan", "--out",
                                           ws.path("run")], "--max-lut"),
    Case("search-max-lut-huge", lambda ws: ["search", "--max-lut", str(10 ** 12), "--out",
                                            ws.path("run")], "max-lut"),
    Case("search-val-size-negative", lambda ws: ["search", "--val-size", "-1", "--out",
                                                 ws.path("run")], "val-size"),
    Case("search-unknown-dataset", lambda ws: ["search", "--dataset", "imagenet", "--out",
                                               ws.path("run")], "--dataset"),
    Case("search-trials-zero", lambda ws: ["search", "--trials", "0", "--out", ws.path("run")],
         "trials"),
    Case("search-min-fps-inf", lambda ws: ["search", "--min-fps", "inf", "--out",
                                           ws.path("run")], "min-fps"),
    Case("search-clock-nan", lambda ws: ["search", "--clock-mhz", "nan", "--out",
                                         ws.path("run")], "clock-mhz"),
    Case("search-unknown-device", lambda ws: ["search", "--device", "nope", "--out",
                                              ws.path("run")], "device"),
    Case("search-unknown-strategy", lambda ws: ["search", "--strategy", "grid", "--out",
                                                ws.path("run")], "strategy"),
    Case("search-latency-budget-without-table", lambda ws: [
        "search", "--max-latency-ms", "1", "--out", ws.path("run")], "max-latency-ms"),
    Case("search-no-out", lambda ws: ["search"], "--out"),
    # with a valid (toy) data set, so that the run gets to the checked field
    Case("search-data-dir-missing", lambda ws: ["search", "--dataset", "mnist", "--data-dir",
                                                ws.path("nope"), "--out", ws.path("run")],
         "data", guard=_NO_TRAINING),
    Case("search-data-dir-empty", lambda ws: ["search", "--dataset", "mnist", "--data-dir",
                                              ws.mkdir("empty"), "--out", ws.path("run")],
         "data", guard=_NO_TRAINING),
    Case("search-data-damaged", lambda ws: ["search", "--dataset", "mnist", "--data-dir",
                                            ws.mkdir("bad", {
                                                "train-images-idx3-ubyte.gz": b"junk",
                                                "train-labels-idx1-ubyte.gz": b"junk",
                                                "t10k-images-idx3-ubyte.gz": b"junk",
                                                "t10k-labels-idx1-ubyte.gz": b"junk"}),
                                            "--out", ws.path("run")], "data",
         guard=_NO_TRAINING),
    Case("search-val-size-above-training-set", lambda ws: [
        "search", *_toy(ws), "--val-size", "100000", "--out", ws.path("run")], "val-size",
        guard=_NO_TRAINING),
    Case("search-out-existing-file", lambda ws: [
        "search", *_toy(ws), "--out", ws.write("run", "a file\n")], "out", guard=_NO_TRAINING),
    Case("search-out-foreign-directory", lambda ws: [
        "search", *_toy(ws), "--out", ws.mkdir("run", {"thesis.tex": "precious\n"})], "out",
        guard=_NO_TRAINING),
    Case("search-out-damaged-request", lambda ws: [
        "search", *_toy(ws), "--out", ws.mkdir("run", {"request.json": "{"})], "request",
        guard=_NO_TRAINING),
    Case("search-unreachable-min-fps", lambda ws: [
        "search", *_toy(ws), "--min-fps", "1e12", "--out", ws.path("run")], "min-fps",
        guard=_NO_TRAINING),
    Case("search-unreachable-max-lut", lambda ws: [
        "search", *_toy(ws), "--max-lut", "10", "--out", ws.path("run")], "max-lut",
        guard=_NO_TRAINING),
    Case("search-latency-table-truncated", lambda ws: [
        "search", *_toy(ws), "--latency-table", ws.truncated(TABLE, "t.json"), "--out",
        ws.path("run")], "latency-table", guard=_NO_TRAINING),
    Case("search-latency-table-lacks-ops", lambda ws: [
        "search", *_toy(ws), "--latency-table", ws.table(), "--out", ws.path("run")],
        "latency-table", guard=_NO_TRAINING),
    # issue 10: spaces, supernet schemes, the training device
    Case("search-unknown-space", lambda ws: ["search", "--space", "resnet", "--out",
                                             ws.path("run")], "--space"),
    Case("search-unknown-supernet", lambda ws: ["search", "--supernet", "two-shot", "--out",
                                                ws.path("run")], "--supernet"),
    Case("search-unknown-train-device", lambda ws: ["search", "--train-device", "tpu", "--out",
                                                    ws.path("run")], "--train-device"),
    Case("search-few-shot-one-epoch", lambda ws: ["search", "--supernet", "few-shot",
                                                  "--epochs", "1", "--out", ws.path("run")],
         "epochs"),
    Case("search-few-shot-warmup-all-epochs", lambda ws: [
        "search", "--supernet", "few-shot", "--epochs", "2", "--warmup-epochs", "2", "--out",
        ws.path("run")], "warmup-epochs"),
    Case("search-few-shot-splits-zero", lambda ws: ["search", "--few-shot-splits", "0", "--out",
                                                    ws.path("run")], "few-shot-splits"),
    Case("search-few-shot-too-many-splits", lambda ws: [
        "search", *_toy(ws), "--epochs", "2", "--supernet", "few-shot", "--few-shot-splits",
        "9", "--out",
        ws.path("run")], "few-shot-splits", guard=_NO_TRAINING),
    Case("search-cuda-without-gpu", lambda ws: [
        "search", *_toy(ws), "--train-device", "cuda", "--out", ws.path("run")],
        "train-device", guard=_NO_TRAINING),
]
EXPORT_CASES = [
    Case("export-missing-run", lambda ws: ["export", ws.path("nope"), "--out", ws.path("exp")],
         "RUN_DIR"),
    Case("export-run-is-a-file", lambda ws: ["export", ws.write("run", "x"), "--out",
                                             ws.path("exp")], "RUN_DIR"),
    Case("export-pareto-truncated", lambda ws: ["export", ws.run(raw=json.dumps(PARETO)[:40]),
                                                "--out", ws.path("exp")], "pareto"),
    Case("export-pareto-designs-not-a-list", lambda ws: [
        "export", ws.pareto(lambda p: p.update(designs={})), "--out", ws.path("exp")],
        "designs"),
    Case("export-pareto-request-empty", lambda ws: ["export", ws.run(), "--out",
                                                     ws.path("exp")], "request"),
    Case("export-no-supernet", lambda ws: ["export", ws.pareto(lambda p: p.update(
        request={"dataset": "mnist", "device": "pynq-z1", "out": ws.path("run")})), "--out",
        ws.path("exp")], "supernet"),
    Case("export-out-existing-file", lambda ws: ["export", ws.run(), "--out",
                                                 ws.write("exp", "x")], "out"),
    Case("export-finetune-epochs-negative", lambda ws: [
        "export", ws.run(), "--finetune-epochs=-1", "--out", ws.path("exp")], "finetune"),

    Case("export-no-out", lambda ws: ["export", ws.path("run")], "--out"),
    Case("export-rerank-word", lambda ws: ["export", ws.path("run"), "--rerank", "x", "--out",
                                           ws.path("exp")], "--rerank"),
]

# Cases on a real finished run: damaged run files on resume and on export, a second process,
# storage, and every export flag.  No case may train (search) or fine-tune (export).
_FT_GUARD = ("codesign.supernet.train:finetune",)
RUN_CASES = [
    # --- search: resume of a real run with a damaged file
    *[Case(f"search-resume-supernet-{kind}", lambda ws, c=content: ws.real_search(
        run=ws.real_run(_replace("supernet.pt", c))), "supernet.pt", guard=_RUN_GUARD)
      for kind, content in (("empty", b""), ("truncated", _TRUNCATE),
                            ("garbage", bytes(range(256)) * 64),
                            ("zip-header-only", b"PK\x03\x04" + b"\0" * 60))],
    Case("search-resume-supernet-malicious-pickle", lambda ws: ws.real_search(
        run=ws.real_run(_replace("supernet.pt", _malicious_pickle(ws.path("pwned"))))),
        "supernet.pt", guard=_RUN_GUARD),
    Case("search-resume-supernet-foreign-weights", lambda ws: ws.real_search(
        run=ws.real_run(_foreign_checkpoint)), "supernet.pt", guard=_RUN_GUARD),
    Case("search-resume-supernet-a-list", lambda ws: ws.real_search(
        run=ws.real_run(_list_checkpoint)), "supernet.pt", guard=_RUN_GUARD),
    Case("search-resume-supernet-a-directory", lambda ws: ws.real_search(
        run=ws.real_run(lambda r: ((r / "supernet.pt").unlink(), (r / "supernet.pt").mkdir())
                        )), "supernet.pt", guard=_RUN_GUARD),
    *[Case(f"search-resume-study-{kind}", lambda ws, c=content: ws.real_search(
        run=ws.real_run(_replace("study.db", c))), "study.db", guard=_RUN_GUARD)
      for kind, content in (("truncated", lambda b: b[:1000]), ("garbage", b"x" * 4096),
                            ("text", b"SQLite format 2\n"))],
    Case("search-resume-study-empty-after-a-finished-run", lambda ws: ws.real_search(
        run=ws.real_run(_replace("study.db", b""))), "study.db", guard=_RUN_GUARD),
    *[Case(f"search-resume-supernet-bad-{part}", lambda ws, part=part, bad=bad: ws.real_search(
        run=ws.real_run(_edit_checkpoint(part, bad))), "supernet.pt", guard=_RUN_GUARD)
      for part, bad in (("optimizer", "x"), ("epoch", "one"), ("rng", {}), ("history", 3))],
    Case("search-resume-request-unknown-key", lambda ws: ws.real_search(run=ws.real_run(
        _replace("request.json", lambda b: json.dumps({**json.loads(b), "colour": 1}).encode())
    )), "request", guard=_RUN_GUARD),
    Case("search-resume-request-not-an-object", lambda ws: ws.real_search(
        run=ws.real_run(_replace("request.json", b"[1, 2]"))), "request", guard=_RUN_GUARD),
    Case("search-resume-different-budget", lambda ws: [
        *ws.real_search(run=ws.real_run()), "--max-lut", "20000"], "out", guard=_RUN_GUARD),
    Case("search-run-in-use", lambda ws: ws.real_search(run=ws.real_run(_HeldLock())),
         "in use by another codesign process", guard=_RUN_GUARD),
    Case("search-storage-unreachable", lambda ws: [
        "search", *_toy(ws), "--storage", "postgresql://nobody@127.0.0.1:9/none", "--out",
        ws.path("run")], "storage", echo=("127.0.0.1",), guard=_NO_TRAINING),
    Case("search-storage-not-a-url", lambda ws: [
        "search", *_toy(ws), "--storage", "not a url", "--out", ws.path("run")], "storage",
        guard=_NO_TRAINING),
    Case("search-checkpoint-every-zero", lambda ws: [
        "search", *_toy(ws), "--checkpoint-every-s", "0", "--out", ws.path("run")],
        "checkpoint-every-s", guard=_NO_TRAINING),
    Case("search-checkpoint-every-nan", lambda ws: [
        "search", *_toy(ws), "--checkpoint-every-s", "nan", "--out", ws.path("run")],
        "checkpoint-every-s", guard=_NO_TRAINING),
    Case("search-batch-above-training-set", lambda ws: [
        "search", *_toy(ws)[:-7], "--batch-size", "100000", "--val-size", "50",
        "--screen-pool", "0", "--no-progress", "--out", ws.path("run")], "batch-size",
        guard=_NO_TRAINING),
    # --- export of a real run
    *[Case(f"export-supernet-{kind}", lambda ws, c=content: [
        "export", ws.real_run(_replace("supernet.pt", c)), "--out", ws.path("exp")],
        "supernet.pt", guard=_FT_GUARD)
      for kind, content in (("empty", b""), ("truncated", _TRUNCATE), ("garbage", b"\x80" * 999))],
    Case("export-supernet-malicious-pickle", lambda ws: [
        "export", ws.real_run(_replace("supernet.pt", _malicious_pickle(ws.path("pwned")))),
        "--out", ws.path("exp")], "supernet.pt", guard=_FT_GUARD),
    Case("export-supernet-foreign-weights", lambda ws: [
        "export", ws.real_run(_foreign_checkpoint), "--out", ws.path("exp")], "supernet.pt",
        guard=_FT_GUARD),
    Case("export-design-unknown-id", lambda ws: [
        "export", ws.real_run(), "--design", "12345", "--out", ws.path("exp")], "design",
        echo=("12345",), guard=_FT_GUARD),
    Case("export-design-word", lambda ws: [
        "export", ws.real_run(), "--design", "biggest", "--out", ws.path("exp")], "design",
        echo=("biggest",), guard=_FT_GUARD),
    Case("export-design-negative", lambda ws: [
        "export", ws.real_run(), "--design", "-3", "--out", ws.path("exp")], "design",
        guard=_FT_GUARD),
    Case("export-best-points-nowhere", lambda ws: [
        "export", ws.real_run(_pareto_edit(lambda d: d.update(best=999))), "--design", "best",
        "--out", ws.path("exp")], "pareto.best", guard=_FT_GUARD),
    Case("export-designs-not-a-list", lambda ws: [
        "export", ws.real_run(_pareto_edit(lambda d: d.update(designs={"a": 1}))), "--out",
        ws.path("exp")], "pareto.designs", guard=_FT_GUARD),
    Case("export-design-lacks-candidate", lambda ws: [
        "export", ws.real_run(_pareto_edit(lambda d: d["designs"][0].pop("candidate"))),
        "--out", ws.path("exp")], "candidate", guard=_FT_GUARD),
    Case("export-design-id-a-string", lambda ws: [
        "export", ws.real_run(_pareto_edit(lambda d: d["designs"][1].update(id="one"))),
        "--out", ws.path("exp")], "designs[1].id", guard=_FT_GUARD),
    Case("export-design-foreign-candidate", lambda ws: [
        "export", ws.real_run(_pareto_edit(lambda d: d["designs"][0]["candidate"].update(
            {"arch.colour": 3}))), "--out", ws.path("exp")], "pareto.designs", guard=_FT_GUARD),
    Case("export-design-feasible-without-accuracy", lambda ws: [
        "export", ws.real_run(_pareto_edit(lambda d: d["designs"][0].update(accuracy=None,
                                                                           feasible=True))),
        "--out", ws.path("exp")], "accuracy", guard=_FT_GUARD),
    Case("export-request-data-dir-a-number", lambda ws: [
        "export", ws.real_run(_pareto_edit(lambda d: d["request"].update(data_dir=5))),
        "--out", ws.path("exp")], "data-dir", guard=_FT_GUARD),
    Case("export-request-dataset-unknown", lambda ws: [
        "export", ws.real_run(_pareto_edit(lambda d: d["request"].update(dataset="imagenet"))),
        "--out", ws.path("exp")], "request", guard=_FT_GUARD),
    Case("export-qonnx-samples-negative", lambda ws: [
        "export", ws.real_run(), "--qonnx-samples", "-5", "--out", ws.path("exp")],
        "qonnx-samples", echo=("-5",), guard=_FT_GUARD),
    Case("export-qonnx-samples-zero", lambda ws: [
        "export", ws.real_run(), "--qonnx-samples", "0", "--out", ws.path("exp")],
        "qonnx-samples", guard=_FT_GUARD),
    Case("export-finetune-lr-nan", lambda ws: [
        "export", ws.real_run(), "--finetune-lr", "nan", "--out", ws.path("exp")],
        "finetune-lr", guard=_FT_GUARD),
    Case("export-finetune-epochs-inf", lambda ws: [
        "export", ws.real_run(), "--finetune-epochs", "inf", "--out", ws.path("exp")],
        "finetune-epochs", guard=_FT_GUARD),
    Case("export-rerank-zero", lambda ws: [
        "export", ws.real_run(), "--rerank", "0", "--out", ws.path("exp")], "rerank",
        guard=_FT_GUARD),
    Case("export-rerank-epochs-zero", lambda ws: [
        "export", ws.real_run(), "--rerank-epochs", "0", "--out", ws.path("exp")],
        "rerank-epochs", guard=_FT_GUARD),
    Case("export-out-non-empty", lambda ws: [
        "export", ws.real_run(), "--out", ws.mkdir("exp", {"keep.txt": "mine"})], "out",
        guard=_FT_GUARD),
    Case("export-data-damaged", lambda ws: [
        "export", ws.real_run(), "--data-dir", ws.mkdir("d", {
            "train-images-idx3-ubyte.gz": b"\x1f\x8b\x08junk",
            "train-labels-idx1-ubyte.gz": b"junk", "t10k-images-idx3-ubyte.gz": b"junk",
            "t10k-labels-idx1-ubyte.gz": b"junk"}), "--out", ws.path("exp")], "data-dir",
        guard=_FT_GUARD),
    Case("export-no-supernet-real", lambda ws: [
        "export", ws.real_run(lambda r: (r / "supernet.pt").unlink()), "--out",
        ws.path("exp")], "RUN_DIR", guard=_FT_GUARD),
]

CASES: list[Case] = (TOP_CASES + ESTIMATE_CASES + FOLD_CASES + CALIBRATE_CASES + LATENCY_CASES
                     + COMPARE_CASES + SEARCH_CASES + EXPORT_CASES + RUN_CASES)


# ------------------------------------------------------------------ the test
def _no_measuring(*_a: Any, **_k: Any) -> Any:
    raise AssertionError("a bad-input case reached a measurement or a training")


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, idx_writer: Any) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    monkeypatch.chdir(root)
    import codesign.latency

    for name in ("build_table", "validate_table", "measure_round_robin"):
        monkeypatch.setattr(codesign.latency, name, _no_measuring)
    return Workspace(root, idx_writer)


def guard(monkeypatch: pytest.MonkeyPatch, targets: tuple[str, ...]) -> None:
    """Replace each ``"module:function"`` by a function that fails the test."""
    import importlib

    for target in targets:
        module, name = target.split(":")
        monkeypatch.setattr(importlib.import_module(module), name, _no_measuring)


def check_refused(cli: Any, ws: Workspace, argv: list[str], field: str,
                  echo: tuple[str, ...] = ()) -> str:
    """Run ``argv`` and assert the README's bad-input contract; returns the error line."""
    before = cli.snapshot(ws.root)
    r = cli(argv)
    after = cli.snapshot(ws.root)
    assert "Traceback" not in r.err, r.err
    assert r.code == 2, (r.code, r.err)
    assert len(r.err_lines) == 1, r.err
    line = r.err_lines[0]
    # the workspace's path holds the test's name: match the field in the rest of the line
    for root in {str(ws.root.resolve()), str(ws.root)}:
        line = line.replace(root, "WS")
    assert "error" in line, line
    for word in (field,) + tuple(echo):
        assert word in line, f"{word!r} not in {line!r}"
    assert cli.diff(before, after) == {"created": [], "removed": [], "changed": []}
    return line


def _param(c: Case) -> Any:
    return pytest.param(c, id=c.id, marks=c.marks)


assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input(case: Case, cli: Any, workspace: Workspace,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    guard(monkeypatch, case.guard)
    argv = case.argv(workspace)
    check_refused(cli, workspace, argv, case.field, case.echo)


# ------------------------------------------------------------------ the harness itself
def test_harness_sees_writes(cli: Any, workspace: Workspace) -> None:
    """A valid ``fold --out`` writes: the snapshot diff shows it (so a silent write would fail)."""
    net = workspace.net()
    before = cli.snapshot(workspace.root)
    r = cli(["fold", net, "--target-fps", "100", "--out", workspace.path("folded.json")])
    assert r.code == 0 and r.err == "", r.err
    assert cli.diff(before, cli.snapshot(workspace.root))["created"] == ["folded.json"]


def test_harness_sees_changes_and_hidden_files(cli: Any, workspace: Workspace) -> None:
    """A valid sweep over an earlier sweep rewrites it; a hidden leftover counts as created."""
    net = workspace.net()
    out = workspace.path("sweep")
    assert cli(["fold", net, "--sweep", "--max-points", "5", "--out", out]).code == 0
    before = cli.snapshot(workspace.root)
    os.utime(Path(out) / "sweep.json", ns=(1, 1))
    (Path(out) / ".hidden.tmp").write_text("x")
    d = cli.diff(before, cli.snapshot(workspace.root))
    assert d == {"created": ["sweep/.hidden.tmp"], "removed": [], "changed": ["sweep/sweep.json"]}
    (Path(out) / ".hidden.tmp").unlink()
    r = cli(["fold", net, "--sweep", "--max-points", "5", "--out", out])  # an earlier sweep: ok
    assert r.code == 0, r.err


def test_harness_turns_a_crash_into_a_traceback(cli: Any, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:
    import codesign.commands.devices as devices

    def boom(args: Any) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(devices, "run", boom)  # register() reads it at each call
    r = cli(["devices"])
    assert r.code == 1 and "Traceback" in r.err and "RuntimeError: boom" in r.err


def test_harness_sees_log_lines(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log record before the error is a second stderr line, as in a fresh process."""
    import logging

    import codesign.commands.devices as devices
    from fpga.errors import InputError

    def warn_then_fail(args: Any) -> int:
        logging.getLogger("codesign.test").warning("a warning first")
        raise InputError("field", "bad")

    monkeypatch.setattr(devices, "run", warn_then_fail)
    r = cli(["devices"])
    assert r.code == 2 and len(r.err_lines) == 2 and "a warning first" in r.err_lines[0]


def test_help_still_works(cli: Any) -> None:
    for argv in (["--help"], ["fold", "--help"], ["latency", "build", "--help"]):
        r = cli(argv)
        assert r.code == 0 and "usage:" in r.out and r.err == ""

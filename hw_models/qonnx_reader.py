"""Read a QONNX model (what FINN consumes) into a :class:`~hw_models.network.NetworkSpec`.

The reader walks the single chain of activations from the graph input to the graph output and
maps the Brevitas QONNX idiom this toolkit exports (``fpga.export.onnx_export.export_qonnx``)::

    global_in -> Quant (input bits)
      -> Conv | MatMul | Gemm   (weights through a Quant/BipolarQuant: weight bits, shape)
      -> [BatchNormalization] [Relu] [Add/Mul by a constant] -> Quant (the layer's act_bits)
      -> [MaxPool] -> [Flatten/Reshape] -> ... -> last Conv/MatMul/Gemm (no Quant: act_bits None)

BatchNormalization, Relu and per-channel Add/Mul by constants are absorbed into the layer's
thresholds (what FINN's streamlining does), so they are not layers of their own; a flatten is
implied before the first ``fc`` as in the JSON format.  QONNX carries no folding, so every layer
has ``pe = simd = None``.  A depthwise conv (``group`` = channels) becomes a ``dwconv``
layer (FINN's VVAU).  Layers are named ``conv<i>``, ``pool<i>`` and ``fc<i>`` in graph order.

Whatever the reader cannot map (an unknown op, a Quant whose bit width is not a constant
initializer, a grouped (not depthwise) or dilated conv, a non-square kernel, a branch) raises
:class:`~fpga.errors.InputError` naming the node (``name`` and ``op_type``); nothing is skipped
silently.  Only ``onnx`` is needed (no torch, no qonnx), and it is imported inside
:func:`read_qonnx` so that ``import hw_models`` stays light.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fpga.errors import InputError, check_input_file
from hw_models.network import MAX_BITS, InputSpec, NetworkSpec

log = logging.getLogger(__name__)

__all__ = ["read_qonnx", "SUPPORTED_OPS"]

QUANT_OPS = ("Quant", "BipolarQuant")
COMPUTE_OPS = ("Conv", "MatMul", "Gemm")
ABSORBED_OPS = ("BatchNormalization", "Relu", "Add", "Mul")
SHAPE_OPS = ("Flatten", "Reshape")
SUPPORTED_OPS = QUANT_OPS + COMPUTE_OPS + ("MaxPool",) + SHAPE_OPS + ABSORBED_OPS


@dataclass
class _Graph:
    """The parts of an ONNX graph the walk needs (plain Python, no onnx objects escape)."""

    nodes: list[Any]
    inits: dict[str, Any]                       # initializer name -> numpy array
    producer: dict[str, Any] = field(default_factory=dict)
    consumers: dict[str, list[Any]] = field(default_factory=dict)
    outputs: set[str] = field(default_factory=set)


def _where(node: Any) -> str:
    return f"node '{node.name or '<unnamed>'}' ({node.op_type})"


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _const(g: _Graph, name: str) -> Any | None:
    """The constant value of tensor ``name`` (an initializer or a Constant node), else None."""
    if name in g.inits:
        return g.inits[name]
    prod = g.producer.get(name)
    if prod is not None and prod.op_type == "Constant":
        from onnx import numpy_helper

        a = _attrs(prod)
        if "value" in a:
            return numpy_helper.to_array(a["value"])
    return None


def _quant_bits(g: _Graph, node: Any) -> int:
    """The integer bit width of a Quant (input 3, a constant) or BipolarQuant (1)."""
    if node.op_type == "BipolarQuant":
        return 1
    if len(node.input) < 4:
        raise InputError(_where(node), "Quant has no bit-width input",
                         ["Quant(x, scale, zero_point, bitwidth)"])
    v = _const(g, node.input[3])
    if v is None:
        raise InputError(_where(node), f"bit width '{node.input[3]}' is not a constant "
                         "initializer", ["a constant integer bit width (run qonnx cleanup "
                                         "to fold constants)"])
    if v.size != 1:
        raise InputError(_where(node), f"bit width has shape {tuple(v.shape)}",
                         ["a scalar bit width"])
    bits = float(v.reshape(-1)[0])
    if bits != int(bits) or not 1 <= bits <= MAX_BITS:
        raise InputError(_where(node), f"bit width {bits:g}", [f"an integer in [1, {MAX_BITS}]"])
    return int(bits)


def _weight(g: _Graph, node: Any) -> tuple[Any, int]:
    """Weight array and bits of a compute node: input 1 must be a Quant of a constant."""
    if len(node.input) < 2:
        raise InputError(_where(node), "has no weight input")
    wname = node.input[1]
    q = g.producer.get(wname)
    if q is None or q.op_type not in QUANT_OPS:
        raise InputError(_where(node), f"weights '{wname}' are not quantized (no Quant node on "
                         "them)", ["weights as Quant(initializer) or BipolarQuant(initializer)"])
    w = _const(g, q.input[0])
    if w is None:
        raise InputError(_where(q), "quantizes a non-constant weight tensor",
                         ["a Quant of a constant initializer"])
    return w, _quant_bits(g, q)


def _square(node: Any, attrs: dict[str, Any], key: str, default: int) -> int:
    v = attrs.get(key, [default, default])
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    if len(v) != 2 or v[0] != v[1] or not isinstance(v[0], int):
        raise InputError(_where(node), f"{key} {v} is not square", [f"2-d, equal {key}"])
    return int(v[0])


def _pads(node: Any, attrs: dict[str, Any]) -> int:
    if attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise InputError(_where(node), f"auto_pad {attrs['auto_pad']!r}", ["explicit pads"])
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if len(pads) != 4 or len(set(pads)) != 1:
        raise InputError(_where(node), f"pads {pads} are not symmetric",
                         ["the same padding on all four sides"])
    return int(pads[0])


def _load_graph(path: Path) -> tuple[_Graph, Any]:
    import onnx
    from onnx import numpy_helper

    check_input_file(path, "network")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError and friends
        raise InputError("network", f"{path} is not a readable ONNX model ({exc})") from None
    graph = model.graph
    try:
        inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    except Exception as exc:  # a malformed tensor (wrong data type or size, missing data)
        raise InputError("network", f"{path}: an initializer cannot be read ({exc})") from None
    g = _Graph(nodes=list(graph.node), inits=inits)
    for n in g.nodes:
        for o in n.output:
            g.producer[o] = n
        for i in n.input:
            if i:
                g.consumers.setdefault(i, []).append(n)
    g.outputs = {o.name for o in graph.output}
    return g, graph


def read_qonnx(path: str | Path, name: str | None = None) -> NetworkSpec:
    """Build the :class:`NetworkSpec` (``pe = simd = None``) of the QONNX model at ``path``.

    ``name`` defaults to the file's stem.  Raises :class:`InputError` naming the node for any
    part of the graph that cannot be mapped.
    """
    path = Path(path)
    g, graph = _load_graph(path)
    if not g.nodes:
        raise InputError("network", f"{path} has no nodes")
    inputs = [i for i in graph.input if i.name not in g.inits]
    if len(inputs) != 1:
        raise InputError("network", f"{len(inputs)} graph inputs {[i.name for i in inputs]}",
                         ["exactly one (the image)"])
    gin = inputs[0]
    dims = [d.dim_value if d.HasField("dim_value") else None
            for d in gin.type.tensor_type.shape.dim]
    if len(dims) == 4 and all(d for d in dims[1:]):
        c, h, w = dims[1], dims[2], dims[3]
    elif len(dims) == 2 and dims[1]:
        c, h, w = dims[1], 1, 1
    else:
        raise InputError(f"input '{gin.name}'", f"shape {dims}",
                         ["(N, C, H, W) or (N, features) with static C, H, W"])

    visited: set[int] = set()

    def next_node(tensor: str) -> Any | None:
        cons = g.consumers.get(tensor, [])
        if len(cons) > 1:
            raise InputError(f"tensor '{tensor}'", "feeds "
                             + ", ".join(_where(n) for n in cons)
                             + "; branches are not supported", ["a single chain of layers"])
        return cons[0] if cons else None

    first = next_node(gin.name)
    if first is None or first.op_type not in QUANT_OPS:
        where = _where(first) if first is not None else f"input '{gin.name}'"
        raise InputError(where, "the graph input is not quantized",
                         ["a Quant node on the graph input (its bit width is the input's)"])
    # a Quant on the float graph input becomes FINN's input Thresholding node
    input_spec = InputSpec(channels=c, height=h, width=w, bits=_quant_bits(g, first),
                           thresholding=True)
    visited.add(id(first))
    tensor = first.output[0]

    layers: list[dict[str, Any]] = []
    counts = {"conv": 0, "pool": 0, "fc": 0}
    pending: dict[str, Any] | None = None   # last compute layer, waiting for its act Quant
    flat = False

    def new_name(kind: str) -> str:
        n = f"{kind}{counts[kind]}"
        counts[kind] += 1
        return n

    while True:
        node = next_node(tensor)
        if node is None:
            break
        visited.add(id(node))
        op = node.op_type
        a = _attrs(node)
        if op == "Conv":
            if flat:
                raise InputError(_where(node), "a conv after a flatten/fc is not supported")
            wt, wb = _weight(g, node)
            visited.add(id(g.producer[node.input[1]]))
            if wt.ndim != 4 or wt.shape[2] != wt.shape[3]:
                raise InputError(_where(node), f"weight shape {tuple(wt.shape)}",
                                 ["(out, in, K, K): square 2-d kernels"])
            group = int(a.get("group", 1))
            depthwise = group > 1 and group == c == int(wt.shape[0]) and int(wt.shape[1]) == 1
            if group != 1 and not depthwise:
                raise InputError(_where(node), f"group={group} (grouped conv)",
                                 ["group=1 (dense convolutions)",
                                  "group = in = out channels (depthwise, a VVAU)"])
            if list(a.get("dilations", [1, 1])) != [1, 1]:
                raise InputError(_where(node), f"dilations {list(a['dilations'])}",
                                 ["dilations [1, 1]"])
            k = _square(node, a, "kernel_shape", int(wt.shape[2]))
            s = _square(node, a, "strides", 1)
            p = _pads(node, a)
            if k != int(wt.shape[2]) or s < 1 or p < 0:
                raise InputError(_where(node), f"kernel_shape {k} (weights {wt.shape[2]}), "
                                 f"stride {s}, pads {p}",
                                 ["kernel_shape = the weights' K, strides >= 1, pads >= 0"])
            if not depthwise and int(wt.shape[1]) != c:
                raise InputError(_where(node), f"weights expect {wt.shape[1]} input channels "
                                 f"but the input has {c}")
            cout = int(wt.shape[0])
            h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            c = cout
            if depthwise:
                pending = {"name": new_name("conv"), "op": "dwconv", "kernel": k, "stride": s,
                           "padding": p, "weight_bits": wb, "act_bits": None}
            else:
                pending = {"name": new_name("conv"), "op": "conv", "out_channels": cout,
                           "kernel": k, "stride": s, "padding": p, "weight_bits": wb,
                           "act_bits": None}
            layers.append(pending)
        elif op in ("MatMul", "Gemm"):
            wt, wb = _weight(g, node)
            visited.add(id(g.producer[node.input[1]]))
            if wt.ndim != 2:
                raise InputError(_where(node), f"weight shape {tuple(wt.shape)}",
                                 ["a 2-d weight matrix"])
            if op == "Gemm":
                if int(a.get("transA", 0)):
                    raise InputError(_where(node), "transA=1", ["transA=0"])
                fin, fout = (wt.shape[1], wt.shape[0]) if int(a.get("transB", 0)) else wt.shape
            else:
                fin, fout = wt.shape
            if int(fin) != c * h * w:
                raise InputError(_where(node), f"weights expect {fin} input features but the "
                                 f"input has {c}x{h}x{w} = {c * h * w}")
            c, h, w, flat = int(fout), 1, 1, True
            pending = {"name": new_name("fc"), "op": "fc", "out_features": int(fout),
                       "weight_bits": wb, "act_bits": None}
            layers.append(pending)
        elif op in QUANT_OPS:
            if _const(g, node.input[0]) is not None:
                raise InputError(_where(node), "unexpected weight Quant on the activation path")
            if pending is None or pending["act_bits"] is not None:
                raise InputError(_where(node), "an activation Quant that does not follow a "
                                 "conv/fc layer (after its BatchNormalization/Relu)",
                                 ["one Quant after each conv/fc layer"])
            pending["act_bits"] = _quant_bits(g, node)
        elif op == "MaxPool":
            if flat:
                raise InputError(_where(node), "a maxpool after a flatten/fc is not supported")
            if int(a.get("ceil_mode", 0)) or list(a.get("dilations", [1, 1])) != [1, 1]:
                raise InputError(_where(node), "ceil_mode or dilations set",
                                 ["ceil_mode=0, dilations [1, 1]"])
            if _pads(node, a) != 0:
                raise InputError(_where(node), "padded max-pooling", ["pads 0"])
            k = _square(node, a, "kernel_shape", 0)
            s = _square(node, a, "strides", 1)
            if s < 1:
                raise InputError(_where(node), f"stride {s}", ["strides >= 1"])
            if k < 1 or k > h or k > w:
                raise InputError(_where(node), f"pool window {k} on a {h}x{w} input")
            h, w = (h - k) // s + 1, (w - k) // s + 1
            pending = None
            layers.append({"name": new_name("pool"), "op": "maxpool", "kernel": k, "stride": s})
        elif op in SHAPE_OPS:
            if op == "Flatten" and int(a.get("axis", 1)) != 1:
                raise InputError(_where(node), f"axis={a['axis']}", ["axis=1"])
            if op == "Reshape":
                shape = _const(g, node.input[1]) if len(node.input) > 1 else None
                ok = shape is not None and shape.ndim == 1 and len(shape) == 2 and \
                    int(shape[1]) in (-1, c * h * w)
                if not ok:
                    raise InputError(_where(node), "only a flatten to (N, C*H*W) is supported",
                                     ["Reshape to (N, -1) or (N, C*H*W) with a constant shape"])
            flat = True
        elif op in ABSORBED_OPS:
            if op in ("Add", "Mul"):
                other = [i for i in node.input if i != tensor]
                if len(other) != 1 or _const(g, other[0]) is None:
                    raise InputError(_where(node), "only Add/Mul by a constant (bias, scale) "
                                     "is supported", ["Add/Mul with one constant operand"])
        else:
            raise InputError(_where(node), "unsupported op", SUPPORTED_OPS)
        if len(node.output) < 1:
            raise InputError(_where(node), "has no output")
        tensor = node.output[0]

    if tensor not in g.outputs:
        raise InputError(f"tensor '{tensor}'", "the chain from the input ends before a graph "
                         "output", sorted(g.outputs))
    left = [n for n in g.nodes if id(n) not in visited and n.op_type != "Constant"]
    if left:
        raise InputError(_where(left[0]), "is not on the chain from the input to the output "
                         f"({len(left)} such node(s))", ["a single chain of layers"])
    if not any(l["op"] in ("conv", "fc") for l in layers):
        raise InputError("network", f"{path} has no Conv/MatMul/Gemm layer")
    spec = NetworkSpec.build(name or path.stem, input_spec, layers)
    log.debug("read %s: %d layers", path, len(spec.layers))
    return spec


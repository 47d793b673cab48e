#!/usr/bin/env python3
"""Plain numpy integer reference for the exported digits model.

It reads only model.json and weights.safetensors and computes, with int64 numpy arithmetic
and nothing else, exactly what the engine computes:

* conv / fc: acc = sum of weight * input (zero padding) + bias;
* a linear layer that is not the last one: wrap_abits(floor(acc / 2^shift));
* the last layer: the accumulator itself (the logits);
* relu: max(v, 0); maxpool: max over each window (padding never wins);
* the label: argmax of the logits, ties to the lowest index.

It is written apart from the training forward pass (tools/train_digits.py) so that it
cross-checks the exported files. No floating point is used on the integer path.

CLI:
    python tools/digits_ref.py --model models/digits/model.json \
        --weights models/digits/weights.safetensors --data models/digits/test.npz [--stats]
prints the accuracy on `x`/`y` and checks that the stored `logits` are reproduced exactly
(exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field

import numpy as np
from safetensors.numpy import load_file

LINEAR_OPS = ("conv", "fc")


class ModelError(ValueError):
    pass


def wrap_signed(v: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement reduction of int64 values to signed `bits`-bit values."""
    half = np.int64(1) << np.int64(bits - 1)
    full = np.int64(1) << np.int64(bits)
    return np.mod(v + half, full) - half


def signed_range(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def least_signed_bits(lo: int, hi: int) -> int:
    """The least B whose signed range [-2^(B-1), 2^(B-1)-1] contains [lo, hi]."""
    b = 1
    while True:
        rlo, rhi = signed_range(b)
        if rlo <= lo and hi <= rhi:
            return b
        b += 1


def bias_limit_bits(in_lo: int, in_hi: int, wbits: int, d2: int) -> int:
    """Bits B of the bias limit: the worst-case bias-free accumulator range, as signed bits."""
    wlo, whi = signed_range(wbits)
    prods = [wlo * in_lo, wlo * in_hi, whi * in_lo, whi * in_hi]
    lo = d2 * min(min(prods), 0)
    hi = d2 * max(max(prods), 0)
    return least_signed_bits(lo, hi)


@dataclass
class Layer:
    name: str
    op: str
    spec: dict
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    in_range: tuple[int, int]
    out_range: tuple[int, int] | None = None
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    bias_bits: int | None = None
    terminal: bool = False


@dataclass
class Model:
    name: str
    in_shape: tuple[int, int, int]
    in_bits: int
    in_signed: bool
    layers: list[Layer] = field(default_factory=list)


def _int_field(spec: dict, layer: str, key: str, default=None) -> int:
    if key not in spec:
        if default is None:
            raise ModelError(f"layer {layer}: missing field '{key}'")
        return default
    v = spec[key]
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ModelError(f"layer {layer}: field '{key}' must be a non-negative integer, got {v!r}")
    return v


def load_model(model_path: str, weights_path: str) -> Model:
    """Parse model.json, load weights.safetensors, check shapes, ranges and bias limits."""
    with open(model_path) as fh:
        doc = json.load(fh)
    inp = doc["input"]
    shape = tuple(int(d) for d in inp["shape"])
    if len(shape) != 3 or min(shape) <= 0:
        raise ModelError(f"input shape must be [C, H, W], got {inp['shape']}")
    in_bits = int(inp["bits"])
    in_signed = bool(inp["signed"])
    model = Model(doc.get("name", "model"), shape, in_bits, in_signed)
    tensors = load_file(weights_path)
    used = set()

    cur_shape = shape
    cur_range = signed_range(in_bits) if in_signed else (0, (1 << in_bits) - 1)
    specs = doc["layers"]
    if not specs:
        raise ModelError("no layers")
    for idx, spec in enumerate(specs):
        name = spec["name"]
        op = spec["op"]
        c, h, w = cur_shape
        layer = Layer(name, op, spec, cur_shape, cur_shape, cur_range)
        layer.terminal = idx == len(specs) - 1
        if op == "conv":
            cout = _int_field(spec, name, "cout")
            k = _int_field(spec, name, "k")
            stride = _int_field(spec, name, "stride", 1)
            pad = _int_field(spec, name, "pad", k // 2)
            if stride < 1 or k < 1:
                raise ModelError(f"layer {name}: k and stride must be positive")
            ho = (h + 2 * pad - k) // stride + 1
            wo = (w + 2 * pad - k) // stride + 1
            if ho < 1 or wo < 1:
                raise ModelError(f"layer {name}: empty output")
            layer.out_shape = (cout, ho, wo)
            wshape = (cout, c, k, k)
            d2 = c * k * k
        elif op == "fc":
            dout = _int_field(spec, name, "dout")
            layer.out_shape = (dout, 1, 1)
            wshape = (dout, c * h * w)
            d2 = c * h * w
        elif op == "relu":
            layer.out_range = (max(cur_range[0], 0), max(cur_range[1], 0))
        elif op == "maxpool":
            k = _int_field(spec, name, "k")
            stride = _int_field(spec, name, "stride", k)
            pad = _int_field(spec, name, "pad", 0)
            if pad >= k:
                raise ModelError(f"layer {name}: maxpool pad must be below k")
            ho = (h + 2 * pad - k) // stride + 1
            wo = (w + 2 * pad - k) // stride + 1
            layer.out_shape = (c, ho, wo)
            layer.out_range = cur_range
        else:
            raise ModelError(f"layer {name}: unsupported op '{op}'")

        if op in LINEAR_OPS:
            wbits = _int_field(spec, name, "wbits")
            wt = tensors.get(f"{name}.weight")
            if wt is None:
                raise ModelError(f"missing tensor {name}.weight")
            used.add(f"{name}.weight")
            if tuple(wt.shape) != wshape:
                raise ModelError(f"{name}.weight has shape {wt.shape}, expected {wshape}")
            if wt.dtype.kind != "i":
                raise ModelError(f"{name}.weight must be an integer tensor, got {wt.dtype}")
            wt = wt.astype(np.int64)
            wlo, whi = signed_range(wbits)
            if wt.min() < wlo or wt.max() > whi:
                raise ModelError(f"{name}.weight leaves the signed {wbits}-bit range")
            layer.weight = wt
            cout = wshape[0]
            if spec.get("bias", False):
                bt = tensors.get(f"{name}.bias")
                if bt is None:
                    raise ModelError(f"missing tensor {name}.bias")
                used.add(f"{name}.bias")
                if tuple(bt.shape) != (cout,) or bt.dtype.kind != "i":
                    raise ModelError(f"{name}.bias must be an integer tensor of shape [{cout}]")
                bt = bt.astype(np.int64)
            else:
                bt = np.zeros(cout, dtype=np.int64)
            bb = bias_limit_bits(cur_range[0], cur_range[1], wbits, d2)
            blo, bhi = signed_range(bb)
            if bt.min() < blo or bt.max() > bhi:
                raise ModelError(
                    f"{name}.bias in [{bt.min()}, {bt.max()}] breaks the {bb}-bit bias limit"
                )
            layer.bias = bt
            layer.bias_bits = bb
            if layer.terminal:
                if "shift" in spec:
                    raise ModelError(f"layer {name}: the last layer is not requantized")
                layer.out_range = None  # logits: raw accumulator
            else:
                abits = _int_field(spec, name, "abits")
                _int_field(spec, name, "shift")
                layer.out_range = signed_range(abits)

        model.layers.append(layer)
        cur_shape = layer.out_shape
        cur_range = layer.out_range
    extra = set(tensors) - used
    if extra:
        raise ModelError(f"unused tensors in the weights file: {sorted(extra)}")
    return model


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    n, c, h, wd = x.shape
    cout, cin, k, _ = w.shape
    assert cin == c
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), dtype=np.int64)
    xp[:, :, pad : pad + h, pad : pad + wd] = x
    ho = (h + 2 * pad - k) // stride + 1
    wo = (wd + 2 * pad - k) // stride + 1
    acc = np.zeros((n, cout, ho, wo), dtype=np.int64)
    for i in range(k):
        for j in range(k):
            win = xp[:, :, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride]
            # integer einsum: exact int64 products and sums over the input channels
            acc += np.einsum("oc,nchw->nohw", w[:, :, i, j], win)
    return acc + b.reshape(1, cout, 1, 1)


def _maxpool(x: np.ndarray, k: int, stride: int, pad: int) -> np.ndarray:
    n, c, h, wd = x.shape
    if pad:
        low = np.iinfo(np.int64).min
        xp = np.full((n, c, h + 2 * pad, wd + 2 * pad), low, dtype=np.int64)
        xp[:, :, pad : pad + h, pad : pad + wd] = x
    else:
        xp = x
    ho = (h + 2 * pad - k) // stride + 1
    wo = (wd + 2 * pad - k) // stride + 1
    out = None
    for i in range(k):
        for j in range(k):
            win = xp[:, :, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride]
            out = win.copy() if out is None else np.maximum(out, win)
    return out


def run(model: Model, x: np.ndarray, stats: dict | None = None) -> np.ndarray:
    """Logits (int64, N x dout) for a batch N x C x H x W, or dout for one C x H x W image.

    `stats`, when given, collects per linear layer: the largest |acc| and how many requantized
    outputs left the abits range before the wrap.
    """
    x = np.asarray(x)
    single = x.ndim == 3
    if single:
        x = x[None]
    if tuple(x.shape[1:]) != model.in_shape:
        raise ModelError(f"input shape {x.shape[1:]} is not {model.in_shape}")
    if x.dtype.kind not in "iu":
        raise ModelError("inputs must be integers")
    v = x.astype(np.int64)
    lo, hi = signed_range(model.in_bits) if model.in_signed else (0, (1 << model.in_bits) - 1)
    if v.min() < lo or v.max() > hi:
        raise ModelError(f"input outside its declared domain [{lo}, {hi}]")
    for layer in model.layers:
        s = layer.spec
        if layer.op in LINEAR_OPS:
            if layer.op == "conv":
                acc = _conv(v, layer.weight, layer.bias, s.get("stride", 1), s.get("pad", s["k"] // 2))
            else:
                flat = v.reshape(v.shape[0], -1)
                acc = np.einsum("oi,ni->no", layer.weight, flat) + layer.bias[None, :]
                acc = acc.reshape(acc.shape[0], -1, 1, 1)
            if layer.terminal:
                out = acc
                if stats is not None:
                    stats[layer.name] = {"max_abs_acc": int(np.abs(acc).max()), "overflow": 0}
            else:
                # floor division by 2^shift (toward -inf), then the two's-complement wrap
                q = np.floor_divide(acc, np.int64(1) << np.int64(s["shift"]))
                out = wrap_signed(q, s["abits"])
                if stats is not None:
                    alo, ahi = signed_range(s["abits"])
                    prev = stats.get(layer.name, {"max_abs_acc": 0, "overflow": 0, "outputs": 0})
                    stats[layer.name] = {
                        "max_abs_acc": max(prev["max_abs_acc"], int(np.abs(acc).max())),
                        "overflow": prev["overflow"] + int(((q < alo) | (q > ahi)).sum()),
                        "outputs": prev.get("outputs", 0) + int(q.size),
                    }
            v = out
        elif layer.op == "relu":
            v = np.maximum(v, 0)
        elif layer.op == "maxpool":
            v = _maxpool(v, s["k"], s.get("stride", s["k"]), s.get("pad", 0))
    logits = v.reshape(v.shape[0], -1)
    return logits[0] if single else logits


def predict(logits: np.ndarray) -> np.ndarray:
    """Labels: argmax of the logits, ties to the lowest index (np.argmax returns the first)."""
    return np.argmax(logits, axis=-1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--data", required=True, help="npz with x (N,C,H,W uint8), y, optional logits")
    ap.add_argument("--stats", action="store_true", help="per-layer |acc|, wraps and bias limits")
    args = ap.parse_args(argv)

    model = load_model(args.model, args.weights)
    data = np.load(args.data)
    x, y = data["x"], data["y"].astype(np.int64)
    stats: dict = {}
    logits = run(model, x, stats)
    pred = predict(logits)
    correct = int((pred == y).sum())
    print(f"integer accuracy: {correct}/{len(y)} = {100.0 * correct / len(y):.2f}%")
    ok = True
    if "logits" in data.files:
        stored = data["logits"]
        if stored.dtype != np.int64 or stored.shape != logits.shape or not np.array_equal(stored, logits):
            diff = int((stored != logits).sum()) if stored.shape == logits.shape else -1
            print(f"MISMATCH: stored logits differ from the reference ({diff} entries)")
            ok = False
        else:
            print(f"stored logits reproduced exactly ({logits.shape[0]}x{logits.shape[1]})")
    if args.stats:
        for layer in model.layers:
            if layer.op not in LINEAR_OPS:
                continue
            st = stats[layer.name]
            line = (
                f"{layer.name}: max|acc| {st['max_abs_acc']}, bias limit B={layer.bias_bits} "
                f"(bias in [{-(1 << (layer.bias_bits - 1))}, {(1 << (layer.bias_bits - 1)) - 1}]), "
                f"bias in [{int(layer.bias.min())}, {int(layer.bias.max())}]"
            )
            if not layer.terminal:
                line += f", shift {layer.spec['shift']}, wrapped outputs {st['overflow']}/{st['outputs']}"
            print(line)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

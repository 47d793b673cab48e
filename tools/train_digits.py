#!/usr/bin/env python3
"""Train, quantize (QAT) and export the small digits CNN for PrivQuant-RS.

    python tools/train_digits.py --out models/digits [--seed N] [--epochs N]

Steps:
1. sklearn's bundled digits (1,797 8x8 images, values 0..16) become uint8 images
   x = round(v * 255 / 16); a stratified 80/20 split with a fixed seed (360 test images).
2. Float warm-up of the network c1-r1-p1-c2-r2-c3-r3-fc (input x / 255).
3. Conversion: per linear layer a power-of-two weight scale 2^f (integer weights are
   clamp(round(w * 2^f)) in the signed wbits range), then, layer by layer, the shift s from
   a percentile of |acc| on the training images; 2^(s-1) is folded into the integer bias so
   that the engine's floor shift rounds to nearest.
4. Quantization-aware fine-tuning with the shifts fixed. The forward pass computes the
   engine's integer semantics exactly (float64 tensors holding integers: conv/fc sums,
   floor(acc / 2^s), two's-complement wrap to abits, relu, maxpool); gradients use
   straight-through estimators (round/floor as identity, wrap as a clamp).
5. Export of model.json, weights.safetensors (I8 weights, I32 biases), test.npz (logits from
   the independent numpy reference tools/digits_ref.py, which must also agree bit for bit
   with the training forward pass), float.safetensors (the float warm-up weights),
   hessian.json (Hutchinson mean Hessian traces of the float model) and README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time

import numpy as np
import sklearn
import safetensors
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import digits_ref  # noqa: E402  (the independent numpy reference, used to verify the export)

DTYPE = torch.float64  # integers up to 2^53 are exact; every accumulator here is < 2^24


def architecture(widths: tuple[int, int, int]) -> list[dict]:
    w1, w2, w3 = widths
    return [
        dict(name="c1", op="conv", cout=w1, k=3, stride=1, pad=1, wbits=8, abits=4, bias=True),
        dict(name="r1", op="relu"),
        dict(name="p1", op="maxpool", k=2, stride=2),
        dict(name="c2", op="conv", cout=w2, k=3, stride=1, pad=1, wbits=2, abits=4, bias=True),
        dict(name="r2", op="relu"),
        dict(name="c3", op="conv", cout=w3, k=3, stride=1, pad=1, wbits=2, abits=4, bias=True),
        dict(name="r3", op="relu"),
        dict(name="fc", op="fc", dout=10, wbits=8, bias=True),
    ]


def linear_layers(arch):
    return [l for l in arch if l["op"] in ("conv", "fc")]


# --------------------------------------------------------------------------------------------
# data


def load_split(split_seed: int):
    d = load_digits()
    v = d.images.astype(np.int64)
    assert v.min() == 0 and v.max() == 16 and np.all(d.images == v)
    # round(v * 255 / 16), half up (only v = 8 hits .5; half-even agrees there)
    x = ((v * 255 + 8) // 16).astype(np.uint8)[:, None, :, :]
    y = d.target.astype(np.int64)
    idx = np.arange(len(y))
    tr, te = train_test_split(idx, test_size=0.2, stratify=y, random_state=split_seed)
    tr.sort()
    te.sort()
    return x[tr], y[tr], x[te], y[te]


def shift_images(x: torch.Tensor, gen: torch.Generator, max_shift: int) -> torch.Tensor:
    """Random whole-pixel translations (zero fill) per image: integer images stay integer."""
    if max_shift <= 0:
        return x
    n = x.shape[0]
    d = torch.randint(-max_shift, max_shift + 1, (n, 2), generator=gen)
    p = max_shift
    xp = F.pad(x, (p, p, p, p))
    out = torch.empty_like(x)
    h, w = x.shape[2], x.shape[3]
    for dy in range(-p, p + 1):
        for dx in range(-p, p + 1):
            sel = (d[:, 0] == dy) & (d[:, 1] == dx)
            out[sel] = xp[sel, :, p + dy : p + dy + h, p + dx : p + dx + w]
    return out


# --------------------------------------------------------------------------------------------
# float model


def init_params(arch, gen: torch.Generator) -> dict[str, torch.Tensor]:
    params = {}
    cin = 1
    hw = 8
    for l in arch:
        if l["op"] == "conv":
            shape = (l["cout"], cin, l["k"], l["k"])
            fan_in = cin * l["k"] * l["k"]
            cin = l["cout"]
        elif l["op"] == "fc":
            shape = (l["dout"], cin * hw * hw)
            fan_in = cin * hw * hw
        elif l["op"] == "maxpool":
            hw = hw // l["stride"]
            continue
        else:
            continue
        bound = math.sqrt(6.0 / fan_in)  # He-uniform
        w = (torch.rand(shape, generator=gen, dtype=DTYPE) * 2 - 1) * bound
        params[l["name"] + ".weight"] = w.requires_grad_()
        params[l["name"] + ".bias"] = torch.zeros(shape[0], dtype=DTYPE, requires_grad=True)
    return params


def float_forward(arch, params, x01: torch.Tensor) -> torch.Tensor:
    h = x01
    for l in arch:
        op = l["op"]
        if op == "conv":
            h = F.conv2d(h, params[l["name"] + ".weight"], params[l["name"] + ".bias"],
                         stride=l["stride"], padding=l["pad"])
        elif op == "fc":
            h = F.linear(h.flatten(1), params[l["name"] + ".weight"], params[l["name"] + ".bias"])
        elif op == "relu":
            h = torch.relu(h)
        elif op == "maxpool":
            h = F.max_pool2d(h, l["k"], l["stride"])
    return h


# --------------------------------------------------------------------------------------------
# integer (QAT) forward pass


def ste(x: torch.Tensor, xq: torch.Tensor) -> torch.Tensor:
    """Forward xq, backward the gradient of x."""
    return x + (xq - x).detach()


def srange(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def int_weight(w: torch.Tensor, f: int, wbits: int) -> torch.Tensor:
    lo, hi = srange(wbits)
    c = torch.clamp(w * (2.0 ** f), lo, hi)
    return ste(c, torch.round(c))


def int_bias(b: torch.Tensor, kappa: float, fold: int, bbits: int) -> torch.Tensor:
    lo, hi = srange(bbits)
    c = torch.clamp(b * kappa + fold, lo, hi)
    return ste(c, torch.round(c))


def qat_forward(arch, params, qcfg, x_int: torch.Tensor, upto: str | None = None,
                penalty: list | None = None):
    """The engine's integer semantics on float64 tensors holding integers.

    qcfg[name] = {"f": weight exponent, "shift": s, "kappa": acc units per float unit,
    "bbits": bias limit bits}. With `upto`, stops after that linear layer and returns its raw
    accumulator without the rounding fold (for calibration). `penalty` collects the squared
    excess of acc / 2^s beyond the abits range (keeps training away from wraps).
    """
    h = x_int
    last = arch[-1]["name"]
    for l in arch:
        op, name = l["op"], l["name"]
        if op in ("conv", "fc"):
            q = qcfg[name]
            W = int_weight(params[name + ".weight"], q["f"], l["wbits"])
            terminal = name == last
            calib = name == upto
            s = 0 if (terminal or calib) else q["shift"]
            fold = (1 << (s - 1)) if s > 0 else 0
            b = int_bias(params[name + ".bias"], q["kappa"], fold, q["bbits"])
            if op == "conv":
                acc = F.conv2d(h, W, b, stride=l["stride"], padding=l["pad"])
            else:
                acc = F.linear(h.flatten(1), W, b)
            if terminal or calib:
                return acc
            y = acc / float(1 << s)  # exact: division by a power of two
            qf = ste(y, torch.floor(y))
            lo, hi = srange(l["abits"])
            if penalty is not None:
                # per image: the summed excess beyond [lo, hi + 0.75] (floor(y) wraps outside [lo, hi + 1))
                excess = torch.relu(y - (hi + 0.75)) + torch.relu(lo - y)
                penalty.append(excess.sum() / y.shape[0])
            wrapped = torch.remainder(qf.detach() - lo, float(1 << l["abits"])) + lo
            h = ste(torch.clamp(qf, lo, hi), wrapped)
        elif op == "relu":
            h = torch.relu(h)
        elif op == "maxpool":
            h = F.max_pool2d(h, l["k"], l["stride"])
    return h


def export_ints(arch, params, qcfg) -> dict[str, np.ndarray]:
    """The integer weights and biases exactly as qat_forward uses them."""
    out = {}
    last = arch[-1]["name"]
    with torch.no_grad():
        for l in linear_layers(arch):
            name = l["name"]
            q = qcfg[name]
            s = 0 if name == last else q["shift"]
            fold = (1 << (s - 1)) if s > 0 else 0
            W = int_weight(params[name + ".weight"], q["f"], l["wbits"])
            b = int_bias(params[name + ".bias"], q["kappa"], fold, q["bbits"])
            for key, t in ((".weight", W), (".bias", b)):
                a = t.numpy()
                ai = np.round(a).astype(np.int64)
                assert np.array_equal(ai.astype(np.float64), a), "non-integer value"
                out[name + key] = ai
    return out


def bias_limit_bits(in_lo, in_hi, wbits, d2) -> int:
    wlo, whi = srange(wbits)
    prods = [wlo * in_lo, wlo * in_hi, whi * in_lo, whi * in_hi]
    lo, hi = d2 * min(min(prods), 0), d2 * max(max(prods), 0)
    b = 1
    while not (-(1 << (b - 1)) <= lo and hi <= (1 << (b - 1)) - 1):
        b += 1
    return b


def layer_geometry(arch):
    """Per linear layer: (input range, d2), following the fixed input domain [0, 255]."""
    geo = {}
    rng = (0, 255)
    cin, hw = 1, 8
    for l in arch:
        if l["op"] == "conv":
            geo[l["name"]] = (rng, cin * l["k"] * l["k"])
            cin = l["cout"]
            rng = srange(l["abits"])
        elif l["op"] == "fc":
            geo[l["name"]] = (rng, cin * hw * hw)
        elif l["op"] == "relu":
            rng = (max(rng[0], 0), max(rng[1], 0))
        elif l["op"] == "maxpool":
            hw = hw // l["stride"]
    return geo


def best_weight_exponent(w: torch.Tensor, wbits: int) -> int:
    """Power-of-two scale 2^f minimizing the squared error of clamp(round(w 2^f)) / 2^f."""
    lo, hi = srange(wbits)
    best, best_err = None, None
    top = float(w.abs().max())
    f0 = int(math.floor(math.log2(hi / top)))
    for f in range(f0 - 2, f0 + 6):
        q = torch.clamp(torch.round(w * 2.0 ** f), lo, hi) / 2.0 ** f
        err = float(((q - w) ** 2).sum())
        if best_err is None or err < best_err - 1e-15:
            best, best_err = f, err
    return best


def calibrate(arch, params, x_int, percentile: float, target: float):
    """Weight exponents and shifts, layer by layer on the training images."""
    geo = layer_geometry(arch)
    qcfg = {}
    delta = 1.0 / 255.0  # float units per integer step of the layer's input
    last = arch[-1]["name"]
    with torch.no_grad():
        for l in linear_layers(arch):
            name = l["name"]
            f = best_weight_exponent(params[name + ".weight"], l["wbits"])
            kappa = (2.0 ** f) / delta
            (in_lo, in_hi), d2 = geo[name]
            bbits = bias_limit_bits(in_lo, in_hi, l["wbits"], d2)
            qcfg[name] = dict(f=f, shift=0, kappa=kappa, bbits=bbits)
            if name == last:
                break
            acc = qat_forward(arch, params, qcfg, x_int, upto=name)
            p = float(np.percentile(acc.abs().numpy(), percentile))
            s = max(0, int(math.ceil(math.log2(max(p, 1.0) / target))))
            qcfg[name]["shift"] = s
            delta = (2.0 ** s) / kappa
    return qcfg


# --------------------------------------------------------------------------------------------
# training loops


def batches(n: int, bs: int, gen: torch.Generator):
    perm = torch.randperm(n, generator=gen)
    for i in range(0, n, bs):
        yield perm[i : i + bs]


def cosine_lr(base: float, step: int, total: int) -> float:
    return 0.5 * base * (1 + math.cos(math.pi * min(step, total) / total))


def train_float(arch, params, xtr, ytr, epochs, lr, wd, bs, gen, aug):
    opt = torch.optim.Adam(params.values(), lr=lr)
    total = epochs * math.ceil(len(ytr) / bs)
    step = 0
    for ep in range(epochs):
        for idx in batches(len(ytr), bs, gen):
            xb = shift_images(xtr[idx], gen, aug) / 255.0
            logits = float_forward(arch, params, xb)
            loss = F.cross_entropy(logits, ytr[idx])
            loss = loss + wd * sum((p ** 2).sum() for k, p in params.items() if k.endswith(".weight"))
            for g in opt.param_groups:
                g["lr"] = cosine_lr(lr, step, total)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1


def train_qat(arch, params, qcfg, xtr, ytr, epochs, lr, bs, gen, aug, lam):
    opt = torch.optim.Adam(params.values(), lr=lr)
    total = epochs * math.ceil(len(ytr) / bs)
    scale = qcfg[arch[-1]["name"]]["kappa"]  # integer logits / scale = float-unit logits
    step = 0
    for ep in range(epochs):
        for idx in batches(len(ytr), bs, gen):
            xb = shift_images(xtr[idx], gen, aug)
            pen: list = []
            logits = qat_forward(arch, params, qcfg, xb, penalty=pen)
            loss = F.cross_entropy(logits / scale, ytr[idx]) + lam * sum(pen)
            for g in opt.param_groups:
                g["lr"] = cosine_lr(lr, step, total)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1


def accuracy(logits: torch.Tensor | np.ndarray, y) -> float:
    pred = np.argmax(np.asarray(logits), axis=1)  # first index wins ties
    return float((pred == np.asarray(y)).mean())


# --------------------------------------------------------------------------------------------
# Hessian traces (Hutchinson)


def hutchinson_traces(arch, params, x01, y, samples: int, seed: int) -> dict[str, float]:
    names = [l["name"] for l in linear_layers(arch)]
    ws = [params[n + ".weight"] for n in names]
    loss = F.cross_entropy(float_forward(arch, params, x01), y)
    grads = torch.autograd.grad(loss, ws, create_graph=True)
    gen = torch.Generator().manual_seed(seed)
    sums = [0.0] * len(ws)
    for _ in range(samples):
        vs = [(torch.randint(0, 2, w.shape, generator=gen) * 2 - 1).to(DTYPE) for w in ws]
        hv = torch.autograd.grad(grads, ws, grad_outputs=vs, retain_graph=True)
        for i, (v, h) in enumerate(zip(vs, hv)):
            sums[i] += float((v * h).sum())
    return {n: sums[i] / samples / ws[i].numel() for i, n in enumerate(names)}


# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The command line; its defaults are the settings of the committed models/digits."""
    ap = argparse.ArgumentParser(description="Train, quantize and export the digits CNN.")
    ap.add_argument("--out", required=True, help="output folder (models/digits)")
    ap.add_argument("--seed", type=int, default=0, help="training seed")
    ap.add_argument("--split-seed", type=int, default=0, help="seed of the stratified 80/20 split")
    ap.add_argument("--epochs", type=int, default=60, help="float warm-up epochs")
    ap.add_argument("--qat-epochs", type=int, default=None, help="QAT epochs (default: --epochs)")
    ap.add_argument("--widths", type=str, default="16,32,32", help="channels of c1,c2,c3")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--qat-lr", type=float, default=1e-3)
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--aug", type=int, default=1, help="max random translation in pixels")
    ap.add_argument("--percentile", type=float, default=99.9, help="calibration percentile of |acc|")
    ap.add_argument("--target", type=float, default=8.0, help="calibration: pctl / 2^s <= target")
    ap.add_argument("--penalty", type=float, default=0.1, help="weight of the range penalty")
    ap.add_argument("--hessian-samples", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (fixed for determinism)")
    return ap


def write_model(out_dir: str, arch, ints, qcfg, name: str = "digits") -> tuple[str, str]:
    """Writes model.json and weights.safetensors (I8 weights, I32 biases) of an exported model.

    Checks every weight against its wbits range and every bias against its limit; returns the
    two paths.
    """
    geo = layer_geometry(arch)
    layers_json = []
    for l in arch:
        e = {k: v for k, v in l.items()}
        if l["op"] in ("conv", "fc"):
            lname = l["name"]
            w, b = ints[lname + ".weight"], ints[lname + ".bias"]
            lo, hi = srange(l["wbits"])
            assert lo <= w.min() and w.max() <= hi, f"{lname}: weight out of range"
            (in_lo, in_hi), d2 = geo[lname]
            bb = bias_limit_bits(in_lo, in_hi, l["wbits"], d2)
            blo, bhi = srange(bb)
            assert blo <= b.min() and b.max() <= bhi, f"{lname}: bias breaks the {bb}-bit limit"
            if lname != arch[-1]["name"]:
                e["shift"] = qcfg[lname]["shift"]
        layers_json.append(e)
    model_doc = {"name": name, "input": {"shape": [1, 8, 8], "bits": 8, "signed": False},
                 "layers": layers_json}
    model_path = os.path.join(out_dir, "model.json")
    with open(model_path, "w") as fh:
        fh.write(format_model_json(model_doc))
    weights_path = os.path.join(out_dir, "weights.safetensors")
    tensors = {}
    for l in linear_layers(arch):
        lname = l["name"]
        tensors[lname + ".weight"] = np.ascontiguousarray(ints[lname + ".weight"].astype(np.int8))
        tensors[lname + ".bias"] = np.ascontiguousarray(ints[lname + ".bias"].astype(np.int32))
        assert np.array_equal(tensors[lname + ".weight"], ints[lname + ".weight"])
        assert np.array_equal(tensors[lname + ".bias"], ints[lname + ".bias"])
    save_file(tensors, weights_path)
    return model_path, weights_path


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    qat_epochs = args.epochs if args.qat_epochs is None else args.qat_epochs
    widths = tuple(int(v) for v in args.widths.split(","))
    arch = architecture(widths)

    t0 = time.time()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    xtr_u8, ytr_np, xte_u8, yte_np = load_split(args.split_seed)
    xtr = torch.from_numpy(xtr_u8.astype(np.float64))
    xte = torch.from_numpy(xte_u8.astype(np.float64))
    ytr = torch.from_numpy(ytr_np)
    print(f"data: {len(ytr_np)} train / {len(yte_np)} test images (split seed {args.split_seed})")

    # 1. float warm-up
    params = init_params(arch, gen)
    train_float(arch, params, xtr, ytr, args.epochs, args.lr, args.wd, args.batch, gen, args.aug)
    with torch.no_grad():
        float_train = accuracy(float_forward(arch, params, xtr / 255.0), ytr_np)
        float_test = accuracy(float_forward(arch, params, xte / 255.0), yte_np)
    float_params = {k: v.detach().clone().requires_grad_() for k, v in params.items()}
    print(f"float: train {100 * float_train:.2f}%  test {100 * float_test:.2f}%  ({time.time() - t0:.0f}s)")

    # 2. Hessian traces of the float model's training loss
    traces = hutchinson_traces(arch, float_params, xtr / 255.0, ytr, args.hessian_samples, args.seed)
    print("hessian mean traces: " + ", ".join(f"{k} {v:.4g}" for k, v in traces.items()))

    # 3. calibration
    qcfg = calibrate(arch, params, xtr, args.percentile, args.target)
    with torch.no_grad():
        ptq_test = accuracy(qat_forward(arch, params, qcfg, xte), yte_np)
    print("calibrated: " + ", ".join(f"{k} f={v['f']} s={v['shift']}" for k, v in qcfg.items())
          + f"; before QAT test {100 * ptq_test:.2f}%")

    # 4. QAT with the shifts fixed
    train_qat(arch, params, qcfg, xtr, ytr, qat_epochs, args.qat_lr, args.batch, gen, args.aug,
              args.penalty)
    with torch.no_grad():
        qtr_logits = qat_forward(arch, params, qcfg, xtr)
        qte_logits = qat_forward(arch, params, qcfg, xte)
    print(f"QAT (torch integer forward): train {100 * accuracy(qtr_logits, ytr_np):.2f}%  "
          f"test {100 * accuracy(qte_logits, yte_np):.2f}%  ({time.time() - t0:.0f}s)")

    # 5. export
    os.makedirs(args.out, exist_ok=True)
    ints = export_ints(arch, params, qcfg)
    model_path, weights_path = write_model(args.out, arch, ints, qcfg)
    save_file({l["name"] + ".weight": np.ascontiguousarray(
        float_params[l["name"] + ".weight"].detach().numpy().astype(np.float32)) for l in linear_layers(arch)},
        os.path.join(args.out, "float.safetensors"))

    # verify with the independent reference: same logits as the training forward pass
    ref = digits_ref.load_model(model_path, weights_path)
    stats: dict = {}
    ref_tr = digits_ref.run(ref, xtr_u8, stats)
    ref_te = digits_ref.run(ref, xte_u8, stats)
    assert np.array_equal(ref_tr, qtr_logits.numpy().astype(np.int64)), "reference != QAT forward (train)"
    assert np.array_equal(ref_te, qte_logits.numpy().astype(np.int64)), "reference != QAT forward (test)"
    int_train = float((digits_ref.predict(ref_tr) == ytr_np).mean())
    int_test = float((digits_ref.predict(ref_te) == yte_np).mean())
    np.savez(os.path.join(args.out, "test.npz"), x=xte_u8.astype(np.uint8), y=yte_np.astype(np.int64),
             logits=ref_te.astype(np.int64))
    with open(os.path.join(args.out, "hessian.json"), "w") as fh:
        json.dump({"traces": {k: max(v, 0.0) for k, v in traces.items()}}, fh, indent=2)
        fh.write("\n")
    print(f"integer (numpy reference): train {100 * int_train:.2f}%  test {100 * int_test:.2f}%")

    info = dict(args=args, argv=argv if argv is not None else sys.argv[1:], widths=widths,
                float_train=float_train, float_test=float_test, ptq_test=ptq_test,
                int_train=int_train, int_test=int_test, qcfg=qcfg, stats=stats, ref=ref,
                traces=traces, ntrain=len(ytr_np), ntest=len(yte_np), seconds=time.time() - t0)
    write_readme(os.path.join(args.out, "README.md"), info)
    for l in ref.layers:
        if l.op in ("conv", "fc"):
            st = stats[l.name]
            print(f"  {l.name}: max|acc| {st['max_abs_acc']} (train+test), bias limit {l.bias_bits} bits, "
                  f"bias in [{l.bias.min()}, {l.bias.max()}], wraps {st.get('overflow', 0)}")
    print(f"done in {time.time() - t0:.0f}s")
    return 0


def format_model_json(doc) -> str:
    lines = ["{", f'  "name": {json.dumps(doc["name"])},', f'  "input": {json.dumps(doc["input"])},',
             '  "layers": [']
    for i, l in enumerate(doc["layers"]):
        lines.append("    " + json.dumps(l) + ("," if i + 1 < len(doc["layers"]) else ""))
    lines += ["  ]", "}", ""]
    text = "\n".join(lines)
    assert json.loads(text) == doc
    return text


def write_readme(path, info):
    a = info["args"]
    cmd = "python tools/train_digits.py " + " ".join(info["argv"])
    shifts = ", ".join(f"{k} = {v['shift']}" for k, v in info["qcfg"].items() if k != "fc")
    fexp = ", ".join(f"{k} = {v['f']}" for k, v in info["qcfg"].items())
    rows = []
    for l in info["ref"].layers:
        if l.op not in ("conv", "fc"):
            continue
        st = info["stats"][l.name]
        blo, bhi = -(1 << (l.bias_bits - 1)), (1 << (l.bias_bits - 1)) - 1
        rows.append(f"| {l.name} | {l.spec['wbits']} | {l.spec.get('shift', '-')} | {st['max_abs_acc']} | "
                    f"{l.bias_bits} ([{blo}, {bhi}]) | [{l.bias.min()}, {l.bias.max()}] | "
                    f"{st.get('overflow', 0)} |")
    text = f"""# digits: a small quantized CNN for sklearn's digits

Produced by (from the repository root, versions pinned in `tools/requirements.txt`):

```
{cmd}
```

and checked with

```
python tools/digits_ref.py --model models/digits/model.json --weights models/digits/weights.safetensors --data models/digits/test.npz --stats
```

Data: sklearn's bundled `load_digits` (1,797 images, 8x8, values 0..16), as uint8
`x = round(v * 255 / 16)` (half up). Split: stratified 80/20 by
`train_test_split(test_size=0.2, stratify=y, random_state={a.split_seed})`:
{info['ntrain']} training and {info['ntest']} test images. Training seed {a.seed}; float
warm-up {a.epochs} epochs, QAT {a.qat_epochs if a.qat_epochs is not None else a.epochs} epochs;
random translations of up to {a.aug} pixel(s); {a.threads} torch thread(s). The run is deterministic:
the same command gives the same files, byte for byte, on the same machine and versions.

| model | train | test |
| --- | --- | --- |
| float (warm-up, `float.safetensors`) | {100 * info['float_train']:.2f}% | {100 * info['float_test']:.2f}% |
| integer before QAT (calibrated only) | | {100 * info['ptq_test']:.2f}% |
| **integer (exported; numpy reference)** | {100 * info['int_train']:.2f}% | **{100 * info['int_test']:.2f}%** |

The exported integer model is the model: its test accuracy above is the one computed by
`tools/digits_ref.py` from `model.json` + `weights.safetensors`, and the training forward pass
produced the same logits bit for bit on all {info['ntrain'] + info['ntest']} images.

Network (channels {','.join(str(w) for w in info['widths'])}): c1 conv 3x3 (8-bit weights) -
relu - maxpool 2 - c2 conv 3x3 (2-bit) - relu - c3 conv 3x3 (2-bit) - relu - fc (8-bit) -> 10
logits; 4-bit signed activations (0..7 after relu).

Shifts: {shifts}.

Power-of-two weight scales (integer weight = clamp(round(w * 2^f))): {fexp}. The
round-to-nearest offset 2^(shift-1) is
folded into each requantized layer's bias.

Per linear layer (max |acc| over the train and test images, bias included; "wraps" counts
requantized outputs outside the 4-bit range before the wrap):

| layer | wbits | shift | max abs acc | bias limit B (range) | bias range | wraps |
| --- | --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}

Files:
* `model.json`: the layers, with the shifts.
* `weights.safetensors`: `<layer>.weight` (I8) and `<layer>.bias` (I32).
* `test.npz`: `x` (uint8, N x 1 x 8 x 8), `y` (int64), `logits` (int64, N x 10, from the numpy
  reference) for the {info['ntest']} test images.
* `float.safetensors`: the float warm-up weights (F32) of c1, c2, c3, fc (input scaled to [0, 1]).
* `hessian.json`: mean Hessian traces (Hutchinson, {a.hessian_samples} Rademacher samples, float
  model, mean cross-entropy over the training split, trace / number of weights):
  {', '.join(f'{k} {v:.4g}' for k, v in info['traces'].items())}.
"""
    with open(path, "w") as fh:
        fh.write(text)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Accuracy against communication for the digits CNN: the planner's Pareto front of per-layer
weight widths beside uniform widths, each fine-tuned, exported and run by the engine.

    python tools/pareto_digits.py --out results/digits-pareto [--points N] [--seed S]
        [--epochs E] [--bh PATH]

Steps:
1. `bench-harness plan --pareto N` on models/digits (float weights, Hessian traces) gives the
   front of per-layer weight widths: predicted bytes of one private inference vs sum of Omega.
2. A second series sets every conv/fc layer to the same width b (b in --uniform); the
   activations stay 4-bit.
3. The starting point of every configuration is the trained model of models/digits. Its
   training state (the float parameters behind the committed integers) is recomputed here with
   train_digits.py's defaults and checked bit for bit against the committed
   weights.safetensors and model.json. Per configuration: set the widths, recalibrate the
   weight exponents and shifts (train_digits.calibrate), fine-tune --epochs epochs with the
   exact integer forward pass (train_digits.train_qat), export model.json + weights.safetensors
   to a temporary folder and evaluate the integer accuracy on the 360 held-out images with the
   numpy reference (digits_ref.py), which must equal the training forward pass bit for bit.
4. The engine runs each exported model on one test image (`bench-harness infer --json`): the
   measured bytes (`bytes_total`, the label reveal included), the rounds, and `correct` (the
   2PC label equals the engine's plaintext reference). The planner's prediction for the
   exported widths (`plan --budget`, its pinned value) is recorded beside it.
5. Writes <out>.json, <out>.md and <out>.svg.

Deterministic: one torch thread, fixed seeds, one configuration after the other (or --jobs 2,
which gives the same numbers since every configuration starts from the same state and seed).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from safetensors.numpy import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import digits_ref  # noqa: E402
import train_digits as td  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ("c1", "c2", "c3", "fc")


def rel(path: str) -> str:
    p = os.path.relpath(os.path.abspath(path), REPO)
    return path if p.startswith("..") else p


def run_cmd(cmd: list[str]) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"command failed ({res.returncode}): {shlex.join(cmd)}\n{res.stdout}\n{res.stderr}")
    return res.stdout


def last_json_line(stdout: str) -> dict:
    lines = [l for l in stdout.splitlines() if l.strip().startswith("{")]
    if not lines:
        raise RuntimeError("no JSON line in the output:\n" + stdout)
    return json.loads(lines[-1])


def planner_cost(bh: str, model_path: str, float_w: str, hessian: str, tmp: str) -> tuple[int, float]:
    """The planner's exact bytes and Σ Ω of the widths and shifts written in model_path (its
    "pinned" values: the model as given, logits revealed)."""
    d = last_json_line(run_cmd([bh, "plan", "--model", model_path, "--weights", float_w, "--hessian",
                                hessian, "--budget", "1GB", "--out", os.path.join(tmp, "plan"), "--json"]))
    return int(d["pinned_objective_value"]), float(d["pinned_omega"])


def with_widths(model_json: str, widths: dict, path: str) -> str:
    """A copy of model_json (its shifts kept) with the given weight widths."""
    with open(model_json) as fh:
        doc = json.load(fh)
    for l in doc["layers"]:
        if l["name"] in widths:
            l["wbits"] = widths[l["name"]]
    with open(path, "w") as fh:
        json.dump(doc, fh)
    return path


def widths_key(w: dict) -> str:
    return "/".join(str(w[n]) for n in LAYERS)


# --------------------------------------------------------------------------------------------
# the starting point: the trained model of models/digits


def trained_state(model_dir: str, targs, data):
    """Recomputes train_digits.py's float warm-up and QAT (its defaults, without the Hessian
    step, which touches neither the parameters nor the generator) and checks that the result
    exports to exactly the committed model.json and weights.safetensors."""
    xtr, ytr, xte, yte_np = data
    widths = tuple(int(v) for v in targs.widths.split(","))
    arch = td.architecture(widths)
    qat_epochs = targs.epochs if targs.qat_epochs is None else targs.qat_epochs
    torch.manual_seed(targs.seed)
    gen = torch.Generator().manual_seed(targs.seed)
    params = td.init_params(arch, gen)
    td.train_float(arch, params, xtr, ytr, targs.epochs, targs.lr, targs.wd, targs.batch, gen, targs.aug)
    with torch.no_grad():
        float_test = td.accuracy(td.float_forward(arch, params, xte / 255.0), yte_np)
    qcfg = td.calibrate(arch, params, xtr, targs.percentile, targs.target)
    td.train_qat(arch, params, qcfg, xtr, ytr, qat_epochs, targs.qat_lr, targs.batch, gen, targs.aug,
                 targs.penalty)
    ints = td.export_ints(arch, params, qcfg)
    committed = load_file(os.path.join(model_dir, "weights.safetensors"))
    same = set(committed) == set(ints) and all(
        np.array_equal(committed[k].astype(np.int64), ints[k]) for k in ints)
    with tempfile.TemporaryDirectory() as tmp:
        mpath, _ = td.write_model(tmp, arch, ints, qcfg)
        with open(mpath) as a, open(os.path.join(model_dir, "model.json")) as b:
            same = same and a.read() == b.read()
    if not same:
        raise SystemExit(
            "the recomputed training state does not export to the committed models/digits "
            "(different machine or package versions?): refusing to start from another model")
    # The start: every weight clipped to the range its trained quantizer represents, so that the
    # start computes what the trained model computes (before rounding); the latent values
    # beyond that range were never used by the trained model and receive no gradient in QAT.
    start = {}
    for l in td.linear_layers(arch):
        n = l["name"]
        lo, hi = td.srange(l["wbits"])
        scale = 2.0 ** qcfg[n]["f"]
        start[n + ".weight"] = torch.clamp(params[n + ".weight"].detach(), lo / scale, hi / scale).clone()
        start[n + ".bias"] = params[n + ".bias"].detach().clone()
    check = td.export_ints(arch, {k: v.clone() for k, v in start.items()}, qcfg)
    assert all(np.array_equal(check[k], ints[k]) for k in ints), "the clipped start changed the model"
    return arch, start, qcfg, float_test


# --------------------------------------------------------------------------------------------
# one configuration


def evaluate_config(job: dict) -> dict:
    """Recalibrate, fine-tune, export, check with the reference, run the engine."""
    torch.set_num_threads(job["threads"])
    torch.use_deterministic_algorithms(True)
    t0 = time.time()
    targs = job["targs"]
    xtr, ytr, xte, yte_np, ytr_np = job["data"]
    widths = job["widths"]
    arch = copy.deepcopy(job["arch"])
    for l in arch:
        if l["op"] in ("conv", "fc"):
            l["wbits"] = widths[l["name"]]
    params = {k: v.clone().requires_grad_() for k, v in job["start"].items()}

    qcfg = td.calibrate(arch, params, xtr, targs.percentile, targs.target)
    with torch.no_grad():
        calib_test = td.accuracy(td.qat_forward(arch, params, qcfg, xte), yte_np)
    gen = torch.Generator().manual_seed(job["seed"])
    if job["epochs"] > 0:
        td.train_qat(arch, params, qcfg, xtr, ytr, job["epochs"], job["lr"], targs.batch, gen,
                     targs.aug, targs.penalty)
    with torch.no_grad():
        qtr = td.qat_forward(arch, params, qcfg, xtr).numpy().astype(np.int64)
        qte = td.qat_forward(arch, params, qcfg, xte).numpy().astype(np.int64)
    ints = td.export_ints(arch, params, qcfg)

    with tempfile.TemporaryDirectory() as tmp:
        mpath, wpath = td.write_model(tmp, arch, ints, qcfg)
        ref = digits_ref.load_model(mpath, wpath)  # checks weight ranges and bias limits
        stats: dict = {}
        ref_tr = digits_ref.run(ref, job["xtr_u8"], stats)
        ref_te = digits_ref.run(ref, job["xte_u8"], stats)
        assert np.array_equal(ref_tr, qtr) and np.array_equal(ref_te, qte), "reference != QAT forward"
        int_train = float((digits_ref.predict(ref_tr) == ytr_np).mean())
        int_test = float((digits_ref.predict(ref_te) == yte_np).mean())

        bh = job["bh"]
        infer = last_json_line(run_cmd([bh, "infer", "--model", mpath, "--weights", wpath,
                                        "--input", job["x_npy"], "--json"]))
        infer_logits = last_json_line(run_cmd([bh, "infer", "--model", mpath, "--weights", wpath,
                                               "--input", job["x_npy"], "--reveal", "logits", "--json"]))
        if not infer.get("correct", False):
            raise RuntimeError(f"{widths_key(widths)}: the 2PC label differs from the plaintext reference")
        if "reference_logits" in infer and list(infer["reference_logits"]) != [int(v) for v in ref_te[job["x_index"]]]:
            raise RuntimeError(f"{widths_key(widths)}: engine reference logits differ from digits_ref")
        predicted, omega = planner_cost(bh, mpath, job["float_weights"], job["hessian"], tmp)
        planned, omega_planned = planner_cost(
            bh, with_widths(job["model_json"], widths, os.path.join(tmp, "shipped-shifts.json")),
            job["float_weights"], job["hessian"], tmp)
        assert omega == omega_planned
    return {
        "widths": dict(widths),
        "planned_bytes": planned,
        "predicted_bytes": predicted,
        "omega": omega,
        "measured_bytes": int(infer["bytes_total"]),
        "measured_bytes_logits_reveal": int(infer_logits["bytes_total"]),
        "rounds_logits_reveal": int(infer_logits["rounds"]),
        "bytes_client_to_server": int(infer["bytes_client_to_server"]),
        "bytes_server_to_client": int(infer["bytes_server_to_client"]),
        "setup_bytes": int(infer.get("setup_bytes", 0)),
        "rounds": int(infer["rounds"]),
        "correct": bool(infer["correct"]),
        "calibrated_accuracy": calib_test,
        "accuracy": int_test,
        "train_accuracy": int_train,
        "correct_test_images": int((digits_ref.predict(ref_te) == yte_np).sum()),
        "quant": {n: {"f": qcfg[n]["f"], "shift": qcfg[n]["shift"] if n != "fc" else None,
                      "bias_bits": qcfg[n]["bbits"]} for n in LAYERS},
        "wraps": {n: int(stats[n].get("overflow", 0)) for n in LAYERS if n != "fc"},
        "seconds": time.time() - t0,
    }


# --------------------------------------------------------------------------------------------
# outputs


def machine_info(bh: str) -> dict:
    cpu = None
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import matplotlib
    import sklearn
    import safetensors
    with open(bh, "rb") as fh:
        bh_sha = hashlib.sha256(fh.read()).hexdigest()
    try:
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True,
                                text=True).stdout.strip() or None
    except OSError:
        commit = None
    return {
        "platform": platform.platform(), "cpu": cpu, "logical_cpus": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(), "numpy": np.__version__, "torch": torch.__version__,
        "scikit_learn": sklearn.__version__, "safetensors": safetensors.__version__,
        "matplotlib": matplotlib.__version__,
        "bench_harness": run_cmd([bh, "--version"]).strip(), "bench_harness_sha256": bh_sha,
        "repo_commit": commit,
    }


def dominated(p, pts) -> bool:
    return any(q is not p and q["measured_bytes"] <= p["measured_bytes"] and q["accuracy"] >= p["accuracy"]
               and (q["measured_bytes"] < p["measured_bytes"] or q["accuracy"] > p["accuracy"]) for q in pts)


def pct(v: float) -> str:
    return f"{100 * v:.2f}%"


def write_svg(path: str, doc: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams["svg.hashsalt"] = "privquant-digits-pareto"
    plt.rcParams["svg.fonttype"] = "path"
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    styles = {"plan": dict(color="tab:blue", marker="o", label="planner's Pareto front (mixed widths)"),
              "uniform": dict(color="tab:orange", marker="s", label="uniform widths (all layers b bits)")}
    for series in ("plan", "uniform"):
        pts = sorted((p for p in doc["points"] if p["series"] == series), key=lambda p: p["measured_bytes"])
        xs = [p["measured_bytes"] / 1e6 for p in pts]
        ys = [100 * p["accuracy"] for p in pts]
        ax.plot(xs, ys, linestyle="-", linewidth=1.2, markersize=6, **styles[series])
        for p, x, y in zip(pts, xs, ys):
            txt = widths_key(p["widths"]) if series == "plan" else f"b={p['widths']['c1']}"
            off = (6, -11) if series == "plan" else (6, 5)
            ax.annotate(txt, (x, y), textcoords="offset points", xytext=off, fontsize=7,
                        color=styles[series]["color"])
    ref = doc["shipped"]
    ax.plot([ref["measured_bytes"] / 1e6], [100 * ref["accuracy"]], linestyle="none", marker="*",
            markersize=11, color="tab:green",
            label=f"shipped model {widths_key(ref['widths'])} (60 QAT epochs)")
    c = doc["control"]
    ax.plot([c["measured_bytes"] / 1e6], [100 * c["accuracy"]], linestyle="none", marker="*",
            markersize=11, markerfacecolor="none", color="tab:green",
            label="shipped widths, same recalibration + fine-tuning")
    ax.axhline(100 * doc["start"]["float_accuracy"], color="gray", linestyle="--", linewidth=1,
               label=f"float warm-up model ({pct(doc['start']['float_accuracy'])})")
    ax.set_xlabel("bytes per image, measured by the engine (MB, label reveal included)")
    ax.set_ylabel("integer test accuracy (%, 360 images)")
    ax.set_title("digits CNN: accuracy vs communication (widths c1/c2/c3/fc, 4-bit activations)",
                 fontsize=9)
    ax.margins(x=0.06, y=0.1)
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)


def write_md(path: str, doc: dict) -> None:
    pts = doc["points"]
    st = doc["start"]
    ft = doc["fine_tuning"]
    sh = doc["shipped"]
    m = doc["machine"]
    out = []
    out.append("# digits: accuracy vs communication of per-layer weight widths\n")
    out.append("The accuracy-communication trade-off of PrivQuant (ICCAD'24, Figure 8) on the small "
               "digits CNN of `models/digits`: the planner's Pareto front of per-layer weight widths "
               "beside uniform widths, every configuration fine-tuned, exported as an integer model "
               "and run by the engine. Generated by\n")
    out.append("```\n" + doc["commands"]["run"] + "\n```\n")
    out.append(f"on {m['cpu']} ({m['logical_cpus']} logical CPUs, load average "
               f"{m['load_average_at_start'][0]:.2f} at the start), Python {m['python']}, torch "
               f"{m['torch']} ({ft['threads']} thread), {m['bench_harness']} "
               f"(sha256 `{m['bench_harness_sha256'][:16]}…`), in {doc['run_seconds']:.0f} s. "
               "Every number below is written by that command (`digits-pareto.json` has them all).\n")
    out.append("## Method\n")
    out.append(
        f"* **Plans**: `{doc['commands']['plan']}`: the planner's front of {doc['args']['points']} "
        "per-layer width vectors (the least predicted bytes of one private inference for each level "
        "of the HAWQ-style sensitivity Σ Ω, from `float.safetensors` and `hessian.json`).\n"
        "* **Uniform**: every conv/fc layer at the same width b, b in "
        f"{{{', '.join(str(b) for b in doc['args']['uniform'])}}}.\n"
        "* Activations stay 4-bit everywhere; the network, the split (stratified 80/20, "
        f"{st['ntrain']} training / {st['ntest']} test images) and the seeds are those of "
        "`tools/train_digits.py`.\n"
        f"* **Start**: the trained model of `models/digits` (widths {widths_key(st['widths'])}, "
        f"integer test accuracy {pct(st['integer_accuracy'])}; its float warm-up scores "
        f"{pct(st['float_accuracy'])}, the \"float\" accuracy recorded with every point). Its "
        "training state (the float parameters behind the committed integers) is recomputed with "
        "`train_digits.py`'s defaults and checked to export to the committed `model.json` and "
        "`weights.safetensors` bit for bit; each weight is then clipped to the range its trained "
        "quantizer represents (which leaves the exported integers unchanged). Every configuration "
        "starts from that same state.\n"
        "* **Per configuration**: set the widths, recalibrate the power-of-two weight scales and "
        "the shifts on the training images (`train_digits.calibrate`: 99.9th percentile of |acc|), "
        f"then fine-tune {ft['epochs']} epoch{'s' if ft['epochs'] != 1 else ''} (Adam, lr {ft['lr']:g} with a cosine decay, seed "
        f"{ft['seed']}, 1-pixel translations, range penalty) with the exact integer forward pass "
        "(`train_digits.train_qat`). The biases are clamped to the limit `digits_ref.py` checks "
        "inside that forward pass, so every export is within its limit; the engine accepted every "
        "exported model (a refusal stops the run).\n"
        "* **Accuracy**: of the exported integer model (`model.json` + `weights.safetensors`) on "
        "the held-out split, by the numpy reference `tools/digits_ref.py`, whose logits equal the "
        "training forward pass on all images. \"calibrated\" is the accuracy right after "
        "recalibration, before fine-tuning.\n"
        f"* **Bytes**: `{doc['commands']['infer']}` on test image {doc['args']['image']} "
        "(uint8 [1,8,8]): \"measured\" is `bytes_total` (both directions, the label reveal included; "
        f"the engine reports its {sh['setup_bytes']:,} B OT setup apart) and \"rounds\" its `rounds`; "
        "`correct` (2PC label = the engine's plaintext label) was true for every model. The protocol "
        "is data-oblivious: the bytes do not depend on the image. \"planned\" is the planner's cost "
        "of the widths with the shipped model's shifts (what the front promises), \"predicted\" "
        "its cost for the exported model itself (widths and recalibrated shifts; `plan --budget`, "
        "the pinned value).\n")

    def table(series: str) -> None:
        rows = sorted((p for p in pts if p["series"] == series), key=lambda p: p["measured_bytes"])
        out.append("| widths c1/c2/c3/fc | shifts c1/c2/c3 | Σ Ω | planned B | predicted B | "
                   "measured B | rounds | calibrated | **integer acc.** |")
        out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for p in rows:
            shifts = "/".join(str(p["quant"][n]["shift"]) for n in LAYERS[:3])
            out.append(f"| {widths_key(p['widths'])} | {shifts} | {p['omega']:.3g} | "
                       f"{p['planned_bytes']:,} | {p['predicted_bytes']:,} | {p['measured_bytes']:,} | "
                       f"{p['rounds']} | {pct(p['calibrated_accuracy'])} | **{pct(p['accuracy'])}** "
                       f"({p['correct_test_images']}/{st['ntest']}) |")
        out.append("")

    out.append("## Planner's Pareto front (mixed widths)\n")
    table("plan")
    out.append("## Uniform widths\n")
    table("uniform")
    c = doc["control"]
    out.append("## Reference points\n")
    out.append("| model | widths | shifts c1/c2/c3 | predicted B | measured B | rounds | calibrated | "
               "**integer acc.** |")
    out.append("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    out.append(f"| shipped `models/digits` (60 QAT epochs) | {widths_key(sh['widths'])} | "
               f"{'/'.join(str(st['quant'][n]['shift']) for n in LAYERS[:3])} | {sh['predicted_bytes']:,} | "
               f"{sh['measured_bytes']:,} | {sh['rounds']} | | **{pct(sh['accuracy'])}** |")
    out.append(f"| control: shipped widths, recalibrated + fine-tuned like every point | "
               f"{widths_key(c['widths'])} | {'/'.join(str(c['quant'][n]['shift']) for n in LAYERS[:3])} | "
               f"{c['predicted_bytes']:,} | {c['measured_bytes']:,} | {c['rounds']} | "
               f"{pct(c['calibrated_accuracy'])} | **{pct(c['accuracy'])}** ({c['correct_test_images']}/{st['ntest']}) |")
    out.append("")

    out.append("## What the results show\n")
    obs = []
    allm = pts + [sh, c]
    exact = all(p["measured_bytes_logits_reveal"] == p["predicted_bytes"] for p in allm)
    extra = sorted({p["measured_bytes"] - p["measured_bytes_logits_reveal"] for p in allm})
    xr = sorted({p["rounds"] - p["rounds_logits_reveal"] for p in allm})
    if exact:
        obs.append("The planner's cost functions are exact: run with `--reveal logits`, the engine "
                   "measures exactly the predicted bytes for every exported model. Revealing only "
                   f"the label (the secure argmax) adds {extra[0]:,}–{extra[-1]:,} B and "
                   f"{xr[0]}–{xr[-1]} rounds, depending on the width of the logits (so on fc's "
                   "weight width).")
    else:
        bad = [widths_key(p["widths"]) for p in allm if p["measured_bytes_logits_reveal"] != p["predicted_bytes"]]
        obs.append("With `--reveal logits` the measured bytes differ from the prediction for "
                   + ", ".join(bad) + ".")
    d = sorted(p["predicted_bytes"] - p["planned_bytes"] for p in pts)
    obs.append("The front is planned with the shipped model's shifts; recalibrating for new widths "
               "changes the shifts, and the re-quantization cost depends on the shift, so the "
               f"exported models cost {d[0]:+,} to {d[-1]:+,} B against the planned bytes.")
    plan = sorted((p for p in pts if p["series"] == "plan"), key=lambda p: p["planned_bytes"])
    uni = sorted((p for p in pts if p["series"] == "uniform"), key=lambda p: p["measured_bytes"])
    by_meas = sorted(plan, key=lambda p: p["measured_bytes"])
    if [widths_key(p["widths"]) for p in by_meas] != [widths_key(p["widths"]) for p in plan]:
        obs.append("After recalibration the front's order by bytes changes: measured order "
                   + ", ".join(widths_key(p["widths"]) for p in by_meas) + ".")
    lo, hi = by_meas[0], by_meas[-1]
    obs.append(f"Along the front the measured bytes go from {lo['measured_bytes']:,} B "
               f"({widths_key(lo['widths'])}) to {hi['measured_bytes']:,} B ({widths_key(hi['widths'])}), "
               f"a factor {hi['measured_bytes'] / lo['measured_bytes']:.2f}; the integer accuracy "
               f"from {pct(lo['accuracy'])} to {pct(hi['accuracy'])} (best "
               f"{pct(max(p['accuracy'] for p in plan))}).")
    drops = [(a, b) for a, b in zip(by_meas, by_meas[1:]) if b["accuracy"] < a["accuracy"]]
    if drops:
        obs.append("Accuracy is not monotone in bytes along the front: " + "; ".join(
            f"{widths_key(b['widths'])} ({b['measured_bytes']:,} B) scores {pct(b['accuracy'])}, "
            f"below the cheaper {widths_key(a['widths'])} ({pct(a['accuracy'])})" for a, b in drops)
            + ". Σ Ω is a sensitivity proxy of the float model, not the accuracy after fine-tuning.")
    else:
        obs.append("Accuracy never decreases as the bytes grow along the front.")
    cmp_lines = []
    for u in uni:
        cheaper = [p for p in plan if p["measured_bytes"] <= u["measured_bytes"]]
        if not cheaper:
            cmp_lines.append(f"b={u['widths']['c1']} ({u['measured_bytes']:,} B, {pct(u['accuracy'])}): "
                             "no plan costs as little")
            continue
        best = max(cheaper, key=lambda p: (p["accuracy"], -p["measured_bytes"]))
        if widths_key(best["widths"]) == widths_key(u["widths"]):
            cmp_lines.append(f"b={u['widths']['c1']} ({u['measured_bytes']:,} B, {pct(u['accuracy'])}) "
                             "is itself on the planner's front")
            continue
        saved = 100 * (1 - best["measured_bytes"] / u["measured_bytes"])
        cmp_lines.append(f"b={u['widths']['c1']} ({u['measured_bytes']:,} B, {pct(u['accuracy'])}) vs "
                         f"{widths_key(best['widths'])} ({best['measured_bytes']:,} B, {saved:.0f}% fewer, "
                         f"{pct(best['accuracy'])})")
    obs.append("Each uniform width against the most accurate plan that costs no more: "
               + "; ".join(cmp_lines) + ".")
    seen = {widths_key(p["widths"]) for p in plan}
    allp = plan + [u for u in uni if widths_key(u["widths"]) not in seen]
    nd = sorted((p for p in allp if not dominated(p, allp)), key=lambda p: p["measured_bytes"])
    obs.append("The measured (bytes, accuracy) front over both series: " + ", ".join(
        f"{widths_key(p['widths'])} ({p['series']}, {p['measured_bytes']:,} B, {pct(p['accuracy'])})"
        for p in nd) + ".")
    obs.append(f"One test image is {100 / st['ntest']:.2f} percentage points: differences of one or "
               "two images between configurations are within the noise of one short fine-tuning run "
               f"(one seed) evaluated on {st['ntest']} images.")
    obs.append(f"The control (the shipped widths {widths_key(c['widths'])} through the same "
               f"recalibration and {ft['epochs']} epochs) scores {pct(c['accuracy'])} against "
               f"{pct(sh['accuracy'])} for the shipped model: that difference is the effect of the "
               "extra fine-tuning alone, not of the widths; compare the points with the control, "
               "not with the shipped model.")
    for o in obs:
        out.append(f"* {o}")
    out.append("")
    out.append("Files: `digits-pareto.json` (every number, with per-layer weight exponents, shifts, "
               "bias limits, wrap counts, train accuracy, both directions' bytes and the "
               "label-vs-logits reveal), `digits-pareto.svg` (bytes per image vs integer accuracy).\n")
    with open(path, "w") as fh:
        fh.write("\n".join(out))


# --------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output prefix (writes PREFIX.json, .md, .svg)")
    ap.add_argument("--points", type=int, default=8, help="points of the planner's Pareto front")
    ap.add_argument("--seed", type=int, default=0, help="fine-tuning seed (train_digits.py's default)")
    ap.add_argument("--epochs", type=int, default=10, help="fine-tuning epochs per configuration")
    ap.add_argument("--lr", type=float, default=None, help="fine-tuning learning rate (default: train_digits --qat-lr)")
    ap.add_argument("--uniform", type=str, default="2,3,4,5,6,8", help="uniform widths")
    ap.add_argument("--bh", type=str, default="/tmp/bh", help="the bench-harness binary")
    ap.add_argument("--model-dir", type=str, default=os.path.join(REPO, "models", "digits"))
    ap.add_argument("--image", type=int, default=0, help="index of the test image run by the engine")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (per job)")
    ap.add_argument("--jobs", type=int, default=1, help="configurations evaluated in parallel")
    args = ap.parse_args(argv)
    t0 = time.time()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    bh = os.path.abspath(args.bh)
    mdir = args.model_dir
    model_json = os.path.join(mdir, "model.json")
    float_w = os.path.join(mdir, "float.safetensors")
    hessian = os.path.join(mdir, "hessian.json")
    uniform = [int(b) for b in args.uniform.split(",")]
    targs = td.build_parser().parse_args(["--out", mdir])  # the defaults of the committed model
    lr = targs.qat_lr if args.lr is None else args.lr
    machine = machine_info(bh)

    with tempfile.TemporaryDirectory() as tmp:
        # 1. the planner's front
        plan_cmd = [bh, "plan", "--model", model_json, "--weights", float_w, "--hessian", hessian,
                    "--pareto", str(args.points), "--out", os.path.join(tmp, "p")]
        run_cmd(plan_cmd + ["--json"])
        with open(os.path.join(tmp, "p-pareto.json")) as fh:
            front = json.load(fh)["points"]
        print(f"planner: {len(front)} points ({time.time() - t0:.0f}s)", flush=True)

        # data and the starting point
        xtr_u8, ytr_np, xte_u8, yte_np = td.load_split(targs.split_seed)
        xtr = torch.from_numpy(xtr_u8.astype(np.float64))
        xte = torch.from_numpy(xte_u8.astype(np.float64))
        ytr = torch.from_numpy(ytr_np)
        arch, start, qcfg0, float_test = trained_state(mdir, targs, (xtr, ytr, xte, yte_np))
        shipped_widths = {l["name"]: l["wbits"] for l in arch if l["op"] in ("conv", "fc")}
        print(f"start: trained model reproduced bit for bit; float warm-up test {pct(float_test)} "
              f"({time.time() - t0:.0f}s)", flush=True)
        x_npy = os.path.join(tmp, "x.npy")
        np.save(x_npy, np.ascontiguousarray(xte_u8[args.image].astype(np.uint8)))  # [1, 8, 8]

        # the shipped model itself, as a reference point
        ref = digits_ref.load_model(model_json, os.path.join(mdir, "weights.safetensors"))
        ref_acc = float((digits_ref.predict(digits_ref.run(ref, xte_u8)) == yte_np).mean())
        inf0 = last_json_line(run_cmd([bh, "infer", "--model", model_json, "--weights",
                                       os.path.join(mdir, "weights.safetensors"), "--input", x_npy, "--json"]))
        inf0l = last_json_line(run_cmd([bh, "infer", "--model", model_json, "--weights",
                                        os.path.join(mdir, "weights.safetensors"), "--input", x_npy,
                                        "--reveal", "logits", "--json"]))
        pb0, om0 = planner_cost(bh, model_json, float_w, hessian, tmp)
        shipped = {"widths": shipped_widths, "planned_bytes": pb0, "predicted_bytes": pb0,
                   "omega": om0, "measured_bytes": int(inf0["bytes_total"]),
                   "measured_bytes_logits_reveal": int(inf0l["bytes_total"]),
                   "rounds_logits_reveal": int(inf0l["rounds"]),
                   "setup_bytes": int(inf0.get("setup_bytes", 0)),
                   "rounds": int(inf0["rounds"]), "correct": bool(inf0["correct"]), "accuracy": ref_acc}

        # 2. the configurations (each distinct width vector once)
        configs = [("plan", {n: int(p["widths"][n]) for n in LAYERS}, p) for p in front]
        configs += [("uniform", {n: b for n in LAYERS}, None) for b in uniform]
        distinct = []
        for _, w, _ in configs:
            if widths_key(w) not in [widths_key(d) for d in distinct]:
                distinct.append(w)
        # control: the shipped widths through the same recalibration and fine-tuning, which
        # separates the effect of the widths from that of the extra epochs
        if widths_key(shipped_widths) not in [widths_key(d) for d in distinct]:
            distinct.append(dict(shipped_widths))
        common = dict(targs=targs, data=(xtr, ytr, xte, yte_np, ytr_np), arch=arch, start=start,
                      seed=args.seed, epochs=args.epochs, lr=lr, threads=args.threads, bh=bh,
                      x_npy=x_npy, x_index=args.image, xtr_u8=xtr_u8, xte_u8=xte_u8,
                      float_weights=float_w, hessian=hessian, model_json=model_json)
        jobs = [dict(common, widths=w) for w in distinct]
        results = {}
        if args.jobs > 1:
            import multiprocessing as mp
            with mp.get_context("fork").Pool(args.jobs) as pool:
                for w, r in zip(distinct, pool.imap(evaluate_config, jobs)):
                    results[widths_key(w)] = r
                    print(f"  {widths_key(w)}: {pct(r['accuracy'])}, {r['measured_bytes']:,} B "
                          f"({time.time() - t0:.0f}s)", flush=True)
        else:
            for w, job in zip(distinct, jobs):
                r = evaluate_config(job)
                results[widths_key(w)] = r
                print(f"  {widths_key(w)}: calibrated {pct(r['calibrated_accuracy'])} -> "
                      f"{pct(r['accuracy'])}, {r['measured_bytes']:,} B, {r['rounds']} rounds "
                      f"({r['seconds']:.0f}s; {time.time() - t0:.0f}s)", flush=True)

    points = []
    for series, w, p in configs:
        r = dict(results[widths_key(w)])
        r.pop("seconds")
        if p is not None and (int(p["comm"]) != r["planned_bytes"] or float(p["omega"]) != r["omega"]):
            raise RuntimeError(f"{widths_key(w)}: the front says {p['comm']} B, the planner {r['planned_bytes']} B")
        r["float_accuracy"] = float_test
        points.append({"series": series, **r})

    def shown(cmd):
        return shlex.join(rel(c) if os.path.isabs(c) and not c.startswith(tmp) else
                          c.replace(tmp, "TMP") for c in cmd)

    run_line = "python tools/pareto_digits.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    doc = {
        "title": "digits CNN: accuracy vs communication of per-layer weight widths (PrivQuant Fig. 8)",
        "machine": machine,
        "commands": {
            "run": run_line,
            "plan": shown(plan_cmd),
            "infer": shlex.join([rel(bh), "infer", "--model", "M.json", "--weights", "W.safetensors",
                                 "--input", "X.npy", "--json"]),
            "predicted": shlex.join([rel(bh), "plan", "--model", "M.json", "--weights", rel(float_w),
                                     "--hessian", rel(hessian), "--budget", "1GB", "--out", "PLAN",
                                     "--json"]) + "  (pinned_objective_value, pinned_omega)",
        },
        "args": {"points": args.points, "seed": args.seed, "epochs": args.epochs, "uniform": uniform,
                 "image": args.image, "threads": args.threads, "jobs": args.jobs},
        "start": {"model_dir": rel(mdir), "widths": shipped_widths, "integer_accuracy": ref_acc,
                  "float_accuracy": float_test, "ntrain": int(len(ytr_np)), "ntest": int(len(yte_np)),
                  "split_seed": targs.split_seed, "training_seed": targs.seed,
                  "quant": {n: {"f": qcfg0[n]["f"], "shift": qcfg0[n]["shift"]} for n in LAYERS}},
        "fine_tuning": {"epochs": args.epochs, "lr": lr, "seed": args.seed, "batch": targs.batch,
                        "aug": targs.aug, "penalty": targs.penalty, "percentile": targs.percentile,
                        "target": targs.target, "threads": args.threads},
        "shipped": shipped,
        "control": dict({k: v for k, v in results[widths_key(shipped_widths)].items() if k != "seconds"},
                        series="control", float_accuracy=float_test),
        "points": points,
        "run_seconds": time.time() - t0,
    }
    out = args.out
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out + ".json", "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    write_md(out + ".md", doc)
    write_svg(out + ".svg", doc)
    print(f"wrote {out}.json, {out}.md, {out}.svg in {time.time() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

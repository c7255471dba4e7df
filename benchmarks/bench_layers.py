"""Benchmark of the Hopfield layers (issue 20; a benchmark, not a test): forward time against bare attention.

    python benchmarks/bench_layers.py               # training size: B=32, L=S=512, 8 heads, E=512 (head dim 64)
    python benchmarks/bench_layers.py --quick       # smoke run: B=4, L=S=128
    python benchmarks/bench_layers.py --out DIR     # where bench_layers.csv / .md go (default bench_results/)
    HFLAYERS_PATH=/tmp/hflayers_src python benchmarks/bench_layers.py   # also the official module

"ours" is ``hopfield_cli.nn.Hopfield`` (eval, no_grad, float32, CPU); "bare" the same computation written by
hand with the same weights: the F.linear projections, ``scaled_dot_product_attention`` (and, for updates, one
more SDPA per update with the keys as values) and the output projection, without LayerNorms. The target is
ours / bare <= 1.2 where both compute the same thing (the rows "no LayerNorms"); the default layer also
normalises its three inputs, which the bare attention does not, and that row says what the norms cost.
With ``HFLAYERS_PATH`` pointing at a checkout of github.com/ml-jku/hopfield-layers (never copied here), the
official ``hflayers.Hopfield`` runs on the same weights (its state_dict names are ours) and its time, ratio
and max |ours - hflayers| are added. Then every golden fixture configuration (tests/nn/fixtures/cases.json) in
float64 as the fixtures, at its own tiny shape (per-call overhead; 1 thread) and scaled to B=32, 256 stored and
state patterns (hflayers skipped where update_steps_max=None: in float32, or on new inputs, it may never stop).
Medians of ``--repeats`` runs after a warm-up, the variants taking turns run by run so that load from other
processes hits them alike; the load average is printed with the table. On a loaded machine, ``--threads 1
--clock cpu`` (process CPU time) is steadier than wall time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hopfield_cli.nn import Hopfield, HopfieldLayer, HopfieldPooling  # noqa: E402

FIXTURES = ROOT / "tests" / "nn" / "fixtures"
NO_NORMS = {
    "normalize_stored_pattern": False,
    "normalize_stored_pattern_affine": False,
    "normalize_state_pattern": False,
    "normalize_state_pattern_affine": False,
    "normalize_pattern_projection": False,
    "normalize_pattern_projection_affine": False,
}


def hflayers_module():
    """The official package when HFLAYERS_PATH points at its checkout, else None."""
    path = os.environ.get("HFLAYERS_PATH")
    if not path:
        return None
    sys.path.insert(0, path)
    import hflayers

    return hflayers


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
CLOCK = {"now": time.perf_counter}


def interleaved(fns: dict, repeats: int, inner: int = 1) -> dict:
    """Median seconds of one call of each function over ``repeats`` samples of ``inner`` calls, after one
    warm-up call each; the functions take turns sample by sample (A B C A B C ...), so that a change of the
    machine's load hits them alike."""
    now = CLOCK["now"]
    for fn in fns.values():
        fn()
    samples: dict = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = now()
            for _ in range(inner):
                fn()
            samples[name].append((now() - t0) / inner)
    return {name: statistics.median(times) for name, times in samples.items()}


def bare(module: Hopfield, steps: int):
    """The layer's computation by hand on its own weights: F.linear, SDPA (steps + 1 times), out_proj."""
    core = module.association_core
    w_q, w_k, w_v = core._weights()
    b_q, b_k, b_v = core._biases()
    heads, scale = module.num_heads, float(module.scaling[0])
    w_o, b_o = core.out_proj.weight, core.out_proj.bias

    def split(x: torch.Tensor) -> torch.Tensor:
        b, t, width = x.shape
        return x.view(b, t, heads, width // heads).transpose(1, 2)

    def forward(stored, state, projection, mask=None):
        q = split(F.linear(state, w_q, b_q))
        k = split(F.linear(stored, w_k, b_k))
        v = split(F.linear(projection, w_v, b_v))
        for _ in range(steps):
            q = F.scaled_dot_product_attention(q, k, k, attn_mask=mask, scale=scale)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
        b, h, length, pd = out.shape
        return F.linear(out.transpose(1, 2).reshape(b, length, h * pd), w_o, b_o)

    return forward


def training_size(args, hf) -> list[dict]:
    b, n, e, heads = args.batch, args.length, args.width, args.heads
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, n, e, generator=g)
    y = torch.randn(b, n, e, generator=g)
    pad = torch.zeros(b, n, dtype=torch.bool)
    pad[:, -n // 8 :] = True  # the last eighth of every bag is padding
    additive = torch.zeros(b, 1, 1, n).masked_fill(pad[:, None, None, :], float("-inf"))
    cases = [
        # name, constructor kwargs, input, mask
        ("self, no LayerNorms", {**NO_NORMS}, x, None),
        ("self, defaults (3 LayerNorms)", {}, x, None),
        ("cross (Y, R, Y'), no LayerNorms", {**NO_NORMS}, (y, x, y), None),
        ("self, padding mask, no LayerNorms", {**NO_NORMS}, x, pad),
        ("self, 1 update (eps None), no LayerNorms", {**NO_NORMS, "update_steps_max": 1}, x, None),
    ]
    rows = []
    shape = f"B={b} L=S={n} E={e} heads={heads} float32 cpu threads={torch.get_num_threads()}"
    for name, kwargs, data, mask in cases:
        steps = kwargs.get("update_steps_max", 0)
        kw = {"input_size": e, "num_heads": heads, "update_steps_eps": None, **kwargs}
        ours = Hopfield(**kw).eval()
        parts = (data, data, data) if isinstance(data, torch.Tensor) else data
        hand = bare(ours, steps)
        fns = {
            "ours": lambda ours=ours, data=data, mask=mask: ours(data, stored_pattern_padding_mask=mask),
            "bare": lambda hand=hand, parts=parts, mask=mask: hand(
                *parts, additive if mask is not None else None
            ),
        }
        note = []
        with torch.no_grad():
            if kwargs.get("normalize_state_pattern") is False:  # the same computation: check it is
                diff = (fns["ours"]() - fns["bare"]()).abs().max().item()
                note.append(f"max |ours - bare| = {diff:.1e}")
            if hf is not None:
                official = hf.Hopfield(**{**kw, "update_steps_eps": 1e-300}).eval()
                official.load_state_dict(ours.state_dict(), strict=True)
                fns["hflayers"] = lambda official=official, data=data, mask=mask: official(
                    data, stored_pattern_padding_mask=mask
                )
                diff = (fns["ours"]() - fns["hflayers"]()).abs().max().item()
                note.append(f"max |ours - hflayers| = {diff:.1e}")
            t = interleaved(fns, args.repeats)
        rows.append(result_row(name, shape, t, " ".join(note), target=True))
        print(format_row(rows[-1]), flush=True)
    return rows


def result_row(case: str, shape: str, t: dict, note: str = "", target: bool = False) -> dict:
    ratio = t["ours"] / t["bare"] if "bare" in t else None
    hf = t.get("hflayers")
    no_norms = "no LayerNorms" in case
    return {
        "case": case,
        "ours_s": round(t["ours"], 6),
        "bare_s": round(t["bare"], 6) if "bare" in t else "",
        "ratio_ours_bare": round(ratio, 3) if ratio is not None else "",
        "target": "<= 1.2" if target and no_norms else "",
        "met": ("yes" if ratio <= 1.2 else "NO") if target and no_norms else "",
        "hflayers_s": round(hf, 6) if hf is not None else "",
        "ratio_ours_hflayers": round(t["ours"] / hf, 3) if hf is not None else "",
        "shape": shape,
        "note": note,
    }


def format_row(r: dict) -> str:
    return "  ".join(f"{k}={v}" for k, v in r.items() if v != "")


# --- the golden fixtures' configurations -------------------------------------------------------------------------
CLASSES = {"Hopfield": Hopfield, "HopfieldPooling": HopfieldPooling, "HopfieldLayer": HopfieldLayer}
ROLES = {
    "tensor": ["input"],
    "tuple3": ["stored_pattern", "state_pattern", "pattern_projection"],
    "tuple2": ["stored_pattern", "pattern_projection"],
}


def fixture_inputs(case: dict, scale: tuple[int, int] | None):
    """The case's own inputs and masks (float64), or random ones of the same depths at (batch, length)."""
    from safetensors.torch import load_file

    tensors = load_file(str(FIXTURES / f"{case['name']}.safetensors"))
    params = {k[len("param:") :]: v for k, v in tensors.items() if k.startswith("param:")}
    form = case["forward"]["form"]
    seq_first = case["constructor_kwargs"].get("batch_first", True) is False
    args = [tensors[f"input:{role}"] for role in ROLES[form]]
    masks = {name: tensors[ref] for name, ref in case["forward"]["kwargs"].items()}
    if scale is not None:
        batch, length = scale
        g = torch.Generator().manual_seed(1)
        shapes = [(length, batch, a.shape[-1]) if seq_first else (batch, length, a.shape[-1]) for a in args]
        args = [torch.randn(*s, generator=g, dtype=torch.float64) for s in shapes]
        if "stored_pattern_padding_mask" in masks:
            pad = torch.zeros(batch, length, dtype=torch.bool)
            pad[:, -length // 8 :] = True
            masks["stored_pattern_padding_mask"] = pad
        if "association_mask" in masks:
            assoc = torch.rand(length, length, generator=g) < 0.3
            assoc.fill_diagonal_(False)
            masks["association_mask"] = assoc
    return params, (args[0] if form == "tensor" else tuple(args)), masks


def fixture_rows(args, hf) -> list[dict]:
    cases = json.loads((FIXTURES / "cases.json").read_text())["cases"]
    rows = []
    threads = torch.get_num_threads()
    for label, scale, n_threads, inner in (
        ("fixture shape", None, 1, 50),
        ("scaled B=32 T=256", (32, 256), threads, 1),
    ):
        torch.set_num_threads(n_threads)
        for case in cases:
            params, data, masks = fixture_inputs(case, scale)
            kwargs = case["constructor_kwargs"]
            ours = CLASSES[case["class"]](**kwargs).double().eval()
            ours.load_state_dict(params, strict=True)
            fns = {"ours": lambda ours=ours, data=data, masks=masks: ours(data, **masks)}
            note = ""
            # hflayers loops for ever where rounding keeps ||p_t - p_(t-1)|| above eps (update_steps_max=None):
            # only the fixtures' own inputs are known to stop
            never_stops = scale is not None and kwargs.get("update_steps_max", 0) is None
            with torch.no_grad():
                if never_stops:
                    note = "1 run; hflayers not run: update_steps_max=None may never stop on new inputs"
                elif hf is not None:
                    official = getattr(hf, case["class"])(**kwargs).double().eval()
                    official.load_state_dict(params, strict=True)
                    fns["hflayers"] = lambda official=official, data=data, masks=masks: official(
                        data, **masks
                    )
                    diff = (fns["ours"]() - fns["hflayers"]()).abs().max().item()
                    note = f"max |ours - hflayers| = {diff:.1e}"
                t = interleaved(fns, 1 if never_stops else args.repeats, inner=inner)
            shape = f"{label}, float64 (as the fixtures) cpu threads={n_threads}"
            rows.append(result_row(f"fixture {case['name']}", shape, t, note))
            print(format_row(rows[-1]), flush=True)
    torch.set_num_threads(threads)
    return rows


def write(rows: list[dict], out: Path, header: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    keys = list(rows[0])
    tmp = out / "bench_layers.csv.tmp"
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    os.replace(tmp, out / "bench_layers.csv")
    lines = [header, "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    tmp = out / "bench_layers.md.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, out / "bench_layers.md")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes for a smoke run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per median (default 5)")
    parser.add_argument("--no-fixtures", action="store_true", help="skip the fixture configurations")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall (perf_counter, default) or cpu (process CPU time: steadier on a loaded machine, with "
        "--threads 1)",
    )
    parser.add_argument("--out", default="bench_results", help="output folder (default bench_results/)")
    args = parser.parse_args()
    args.batch, args.length, args.width, args.heads = (4, 128, 512, 8) if args.quick else (32, 512, 512, 8)
    if args.threads:
        torch.set_num_threads(args.threads)
    CLOCK["now"] = CLOCKS[args.clock]
    hf = hflayers_module()
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    rows = training_size(args, hf)
    if not args.no_fixtures:
        rows += fixture_rows(args, hf)
    load_after = os.getloadavg()
    header = (
        f"bench_layers: torch {torch.__version__}, {os.cpu_count()} CPUs, {torch.get_num_threads()} threads, "
        f"{args.clock} clock, "
        f"load average before {load_before[0]:.2f} / after {load_after[0]:.2f} (1 min), "
        f"{time.perf_counter() - t0:.0f} s; hflayers: {'yes' if hf is not None else 'no (HFLAYERS_PATH unset)'}"
    )
    write(rows, Path(args.out), header)


if __name__ == "__main__":
    main()

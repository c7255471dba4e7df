"""The blog's image figure: one image memory, lower-half-masked queries, a row per beta from averaging to
single-pattern retrieval (Ramsauer et al., blog post "Hopfield Networks is All You Need", and Fig. 2's kinds).

Memory: 24 gray 64 x 64 crops of matplotlib's sample data (``data.sample_images``: real photographs and scans
that ship in the wheel; nothing is downloaded), d = 4096. Six betas, geometric from 0.25 / m_max^2 (global
averaging, Lemma A3) to twice the beta at which the stored images are well separated (Section 2). The
prediction is exact at the ends: all queries global at the first beta, and every query retrieves its own
image (nearest stored image, k90 = 1) at the last.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hopfield_cli.core import theory
from hopfield_cli.core.fixed_points import fixed_point_kind
from hopfield_cli.core.models import build_model
from hopfield_cli.data.sample_images import SIDE, sample_images
from hopfield_cli.experiments.beta_scales import well_separated_beta
from hopfield_cli.experiments.reproduce.claims import Claim, relative_figure, reproduce_command, verdict
from hopfield_cli.experiments.reproduce.profiles import Profile
from hopfield_cli.report import claim_figures

ROWS = 6
SHOWN = (0, 3, 8, 11, 14, 20)  # two photographs, two scans, a terrain map and a gift: the figure's columns


def blog_images(profile: Profile, seed: int, root: Path) -> Claim:
    images, _names = sample_images(SIDE)
    x = torch.tensor(images.reshape(len(images), -1))  # (24, 4096), float64
    n = x.shape[0]
    queries = x.clone().reshape(n, SIDE, SIDE)
    queries[:, SIDE // 2 :, :] = 0.0  # the blog's queries: lower half masked
    queries = queries.reshape(n, -1)
    m_max = theory.mean_spread(x)
    beta_ws = well_separated_beta(float(theory.separation(x).min()), n, float(x.norm(dim=1).max()))
    lo, hi = 0.25 / m_max**2, 2.0 * beta_ws
    betas = [lo * (hi / lo) ** (i / (ROWS - 1)) for i in range(ROWS)]
    rows, summary = [], []
    for beta in betas:
        res = build_model("modern", beta=beta).retrieve(x, queries, update_steps_max=200, eps=1e-8)
        nearest = torch.cdist(res.states, x).argmin(dim=1)
        kinds = fixed_point_kind(res.k90, n)
        frac_global = float((kinds == 2).double().mean())
        correct = int(((nearest == torch.arange(n)) & (res.k90 == 1)).sum())
        summary.append((beta, frac_global, correct, float(res.k90.double().median())))
        shown = res.states[list(SHOWN)].reshape(len(SHOWN), SIDE, SIDE).numpy()
        label = ("global", "metastable", "single")[[2, 1, 0][int(torch.mode(kinds).values)]]
        rows.append((beta, shown, label))
    figure = claim_figures.save_beta_rows(
        root / "figures" / "blog_images.png",
        queries[list(SHOWN)].reshape(len(SHOWN), SIDE, SIDE).numpy(),
        rows,
        x[list(SHOWN)].reshape(len(SHOWN), SIDE, SIDE).numpy(),
    )
    first, last = summary[0], summary[-1]
    ok = first[1] >= 1.0 and last[2] == n
    table = "; ".join(f"beta {b:.3g}: k90 {k:g}, {c}/{n} right" for b, _g, c, k in summary)
    return Claim(
        claim="blog_images",
        title="Image memory: from averaging to single-image retrieval as beta grows",
        statement="Stored images retrieved from lower-half-masked queries: small beta returns an average of "
        "the images, large beta the right image.",
        where="Blog post (image retrieval figure); Section 2 (global, metastable, single fixed points)",
        command=reproduce_command("blog_images", profile.name),
        theory=f"all global at beta = {lo:.3g} (beta m_max^2 = 0.25); all {n} right at beta = {hi:.3g} (2x well separated)",
        measured=f"{first[1]:.0%} global at the first beta; {last[2]}/{n} right at the last ({table})",
        tolerance="none: every query at both ends (deterministic images, no sampling)",
        verdict=verdict(bool(ok)),
        theory_value=float(n),
        measured_value=float(last[2]),
        figure=relative_figure(figure, root),
        detail=f"24 crops of matplotlib's sample data ({SIDE}x{SIDE}, d = {SIDE * SIDE}), m_max^2 = {m_max**2:.4g}; "
        f"standalone: hopfield retrieve experiment=blog_images -m beta={','.join(f'{b:.3g}' for b in betas)}",
        extra={"betas": betas},
    )

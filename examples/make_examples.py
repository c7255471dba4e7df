"""Make the README's example inputs (deterministic; ``python examples/make_examples.py`` rewrites them):

- ``faces/``: 12 images of 64 x 64 gray cartoon faces (PNG), for ``patterns=images``;
- ``patterns.npy`` (200 x 32 Gaussian patterns) and ``queries.npy`` (noisy copies of patterns 0..49), for
  ``patterns=file`` with ``queries_file``;
- ``attentions.safetensors``: attention probabilities (2 layers x 8 heads x 16 queries x 64 keys), softmaxes
  of random scores at temperatures that span the paper's head classes I-IV, for ``attention-heads``.

The images are made here, not downloaded, so they ship with the repository under its licence. They are built
like photographs of faces are, for what the modern Hopfield network sees: every image shares a large common
part (a light background, a head in the middle), so uncentred they overlap strongly, and they differ in their
upper half (hair, hat, eyes, brows, glasses) and lower half (mouth, beard). Masking the lower half
(``corruption=mask_lower_half``) leaves the upper half to tell them apart, which it does; a few share
features (two hats, two pairs of glasses), so at intermediate beta their queries settle in metastable mixtures.

"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIDE = 64
HERE = Path(__file__).resolve().parent
FOLDER = HERE / "faces"

# name: hair, eyes, brows, glasses, hat, mouth, beard, skin, background
FACES = {
    "ada": ("long", "round", "flat", False, None, "smile", False, 200, 235),
    "bob": ("short", "dot", "raised", False, None, "flat", True, 185, 225),
    "cy": ("none", "round", "frown", True, None, "open", False, 210, 240),
    "dee": ("bun", "dot", "flat", False, None, "smile", False, 175, 230),
    "eli": ("short", "wide", "flat", True, None, "smile", False, 195, 220),
    "fay": ("long", "wide", "raised", False, "beret", "open", False, 205, 238),
    "gus": ("none", "dot", "flat", False, "cap", "flat", True, 180, 228),
    "hal": ("spiky", "round", "raised", False, None, "frown", False, 190, 232),
    "ivy": ("bun", "wide", "frown", True, None, "flat", False, 215, 236),
    "jo": ("spiky", "dot", "frown", False, None, "smile", True, 170, 224),
    "kai": ("short", "round", "flat", False, "cap", "open", False, 200, 230),
    "lu": ("long", "dot", "frown", True, "beret", "frown", False, 185, 242),
}


def face(hair, eyes, brows, glasses, hat, mouth, beard, skin, background) -> Image.Image:
    image = Image.new("L", (SIDE, SIDE), background)
    draw = ImageDraw.Draw(image)
    dark = 40
    if hair == "long":
        draw.rectangle((12, 14, 52, 50), fill=dark + 30)
    draw.ellipse((14, 10, 50, 56), fill=skin, outline=dark, width=1)
    if hair == "short":
        draw.chord((14, 8, 50, 34), 180, 360, fill=dark)
    elif hair == "long":
        draw.chord((13, 8, 51, 32), 180, 360, fill=dark + 30)
    elif hair == "bun":
        draw.ellipse((26, 2, 38, 14), fill=dark + 10)
        draw.chord((16, 9, 48, 30), 180, 360, fill=dark + 10)
    elif hair == "spiky":
        for x in range(16, 48, 6):
            draw.polygon([(x, 18), (x + 3, 5), (x + 6, 18)], fill=dark)
    if hat == "cap":
        draw.chord((14, 4, 50, 28), 180, 360, fill=90)
        draw.rectangle((8, 15, 40, 18), fill=90)
    elif hat == "beret":
        draw.ellipse((12, 3, 50, 19), fill=120)
    for cx in (24, 40):
        if eyes == "round":
            draw.ellipse((cx - 4, 24, cx + 4, 31), fill=250, outline=dark)
            draw.ellipse((cx - 2, 26, cx + 2, 30), fill=dark)
        elif eyes == "dot":
            draw.ellipse((cx - 2, 26, cx + 2, 30), fill=dark)
        else:  # wide
            draw.ellipse((cx - 6, 25, cx + 6, 30), fill=250, outline=dark)
            draw.ellipse((cx - 2, 25, cx + 2, 30), fill=dark)
        lift = {"flat": 0, "raised": -3, "frown": 2}[brows]
        tilt = 2 if brows == "frown" else 0
        inner = cx + 5 if cx < 32 else cx - 5
        outer = cx - 5 if cx < 32 else cx + 5
        draw.line((outer, 21 + lift, inner, 21 + lift + tilt), fill=dark, width=2)
        if glasses:
            draw.ellipse((cx - 7, 22, cx + 7, 33), outline=20, width=2)
    if glasses:
        draw.line((29, 27, 35, 27), fill=20, width=2)
    draw.line((32, 30, 30, 39), fill=dark + 60, width=1)  # nose
    if beard:
        draw.chord((16, 30, 48, 58), 0, 180, fill=dark + 20)
    mouth_fill = 250 if beard else dark
    if mouth == "smile":
        draw.arc((24, 38, 40, 50), 20, 160, fill=mouth_fill, width=2)
    elif mouth == "frown":
        draw.arc((24, 45, 40, 55), 200, 340, fill=mouth_fill, width=2)
    elif mouth == "open":
        draw.ellipse((27, 42, 37, 50), fill=mouth_fill)
    else:
        draw.line((25, 46, 39, 46), fill=mouth_fill, width=2)
    return image


def memory_files() -> None:
    """patterns.npy and queries.npy: patterns 0..49 plus Gaussian noise of half a pattern's norm."""
    rng = np.random.default_rng(0)
    patterns = rng.standard_normal((200, 32)).astype(np.float32)
    queries = patterns[:50] + 0.5 * rng.standard_normal((50, 32)).astype(np.float32)
    np.save(HERE / "patterns.npy", patterns)
    np.save(HERE / "queries.npy", queries)


def attention_file() -> None:
    """softmax(beta s) over 64 keys of Gaussian scores s; beta from 0.05 (class I) to 20 (class IV) across
    each layer's 8 heads, a little larger in the second layer."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(1)
    betas = np.geomspace(0.05, 20.0, 8).reshape(1, 8, 1, 1) * np.array([1.0, 1.5]).reshape(2, 1, 1, 1)
    scores = betas * rng.standard_normal((2, 8, 16, 64))
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    path = HERE / "attentions.safetensors"
    save_file({"attentions": (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)}, str(path))
    path.chmod(0o644)


def main() -> None:
    FOLDER.mkdir(exist_ok=True)
    for name, spec in FACES.items():
        face(*spec).save(FOLDER / f"{name}.png", optimize=True)
    memory_files()
    attention_file()
    print(f"wrote {len(FACES)} images to {FOLDER}, patterns.npy, queries.npy and attentions.safetensors")


if __name__ == "__main__":
    main()

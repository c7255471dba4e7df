"""The folder of the blog's 24 sample images (``experiment=blog_images``), wherever hopfield is installed.

``conf/experiment/blog_images.yaml`` names it as ``${sample_images:}``: the PNG files shipped in the wheel
(``hopfield_cli/data/blog_images``), else those of a clone (``examples/sample_images``), else written once from
matplotlib's sample data (``data.sample_images``, no network) into ``$XDG_CACHE_HOME/hopfield/sample_images``.
A relative ``examples/sample_images`` worked only from a clone's top folder.
"""

from __future__ import annotations

import os
from pathlib import Path

RESOLVER = "sample_images"
PACKAGED = Path(__file__).resolve().parent / "blog_images"
CLONE = Path(__file__).resolve().parents[2] / "examples" / "sample_images"


def _has_images(folder: Path) -> bool:
    return folder.is_dir() and len(list(folder.glob("*.png"))) >= 24


def write_pngs(folder: Path) -> None:
    """The 24 crops as 8-bit gray PNG files (what ``examples/make_sample_images.py`` writes)."""
    import numpy as np
    from PIL import Image

    from hopfield_cli.data.sample_images import sample_images

    folder.mkdir(parents=True, exist_ok=True)
    images, names = sample_images()
    for i, (image, name) in enumerate(zip(images, names, strict=True)):
        gray = np.clip(np.round((image + 1.0) * 127.5), 0, 255).astype(np.uint8)
        target = folder / f"{i:02d}_{name}.png"
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        Image.fromarray(gray).save(tmp, format="PNG")
        os.replace(tmp, target)  # two runs writing at once leave whole files


def sample_images_folder() -> str:
    for folder in (PACKAGED, CLONE):
        if _has_images(folder):
            return str(folder)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "hopfield" / "sample_images"
    if not _has_images(cache):
        write_pngs(cache)
    return str(cache)


def register_resolver() -> None:
    """``${sample_images:}`` in a config (once per process)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, sample_images_folder)

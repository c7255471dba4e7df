"""Bad input files, through the CLI, for every subcommand and every field that reads a file.

Each ends in one line naming the field, exit 2, and (for a pickle) never runs the pickle's code.
"""

from __future__ import annotations

import builtins
import os
import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.numpy import save_file

from hopfield_cli.data.memory_file import save_memory
from tests.conftest import assert_one_clean_line

from .conftest import SMALL, assert_finite_tables, assert_ok, invoke

# A battery of many in-process runs: `make test` runs it, `make test-fast` leaves it out.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")]

D = 8


class Payload:
    """Unpickling this would create the file ``target``: the proof that code ran."""

    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def make_bad_files(root):
    """name -> (path, substring of the expected message). Every file is malformed in one way."""
    root.mkdir(exist_ok=True)
    good = np.random.default_rng(0).standard_normal((6, D)).astype(np.float32)
    files = {}

    def npy(name, array):
        np.save(root / name, array)
        return root / name

    files["missing"] = (root / "missing.npy", "")
    (root / "empty.npy").write_bytes(b"")
    files["empty"] = (root / "empty.npy", "empty")
    (root / "a_folder.npy").mkdir()
    files["directory"] = (root / "a_folder.npy", "directory")
    save_file({"patterns": good}, str(root / "whole.safetensors"))
    data = (root / "whole.safetensors").read_bytes()
    (root / "truncated.safetensors").write_bytes(data[: len(data) // 2])
    files["truncated safetensors"] = (root / "truncated.safetensors", "")
    (root / "garbage.safetensors").write_bytes(b"\xff" * 64)
    files["garbage safetensors"] = (root / "garbage.safetensors", "")
    npy_bytes = (npy("whole.npy", good)).read_bytes()
    (root / "truncated.npy").write_bytes(npy_bytes[: len(npy_bytes) - 40])
    files["truncated npy"] = (root / "truncated.npy", "")
    files["complex dtype"] = (npy("complex.npy", good.astype(np.complex64)), "complex")
    files["string dtype"] = (npy("strings.npy", np.array([["a", "b"], ["c", "d"]])), "")
    files["1-D"] = (npy("one_d.npy", good[0]), "2-D")
    files["3-D"] = (npy("three_d.npy", good.reshape(2, 3, D)), "2-D")
    files["0 rows"] = (npy("no_rows.npy", good[:0]), "empty")
    nan = good.copy()
    nan[2, 3] = np.nan
    files["NaN inside"] = (npy("nan.npy", nan), "non-finite")
    inf = good.copy()
    inf[0, 0] = np.inf
    files["inf inside"] = (npy("inf.npy", inf), "non-finite")
    files["beyond float32"] = (npy("huge.npy", np.full((2, D), 1e300)), "float32")
    (root / "text.csv").write_text("1,2,3\n4,five,6\n")
    files["csv text cell"] = (root / "text.csv", "not a number")
    (root / "ragged.csv").write_text("1,2,3\n4,5\n")
    files["csv ragged"] = (root / "ragged.csv", "columns")
    (root / "latin1.csv").write_bytes("1,2\n\xe9,3\n".encode("latin-1"))
    files["csv not utf-8"] = (root / "latin1.csv", "UTF-8")
    (root / "header_only.csv").write_text("a,b,c\n")
    files["csv header only"] = (root / "header_only.csv", "no data rows")
    (root / "patterns.txt").write_text("1 2 3")
    files["unknown extension"] = (root / "patterns.txt", "extension")
    np.savez(root / "archive.npz", a=good)
    os.replace(root / "archive.npz", root / "archive.npy")
    files["npz as npy"] = (root / "archive.npy", "npz")
    torch.save({"a": torch.zeros(2, D), "b": torch.ones(2, D)}, root / "two.pt")
    files["pt two tensors"] = (root / "two.pt", "2 tensors")
    (root / "garbage.pt").write_bytes(b"not a zip at all")
    files["garbage pt"] = (root / "garbage.pt", "")
    return files


FIELDS = {  # (command, field, extra overrides that make the field be read)
    "store": [("patterns.path", ["patterns=file"])],
    "retrieve": [("patterns.path", ["patterns=file"]), ("queries_file", []), ("memory", [])],
    "capacity-sweep": [
        ("patterns.path", ["patterns=file", "models=[modern]"]),
        ("memory", ["models=[modern]"]),
    ],
    "metastable-scan": [
        ("patterns.path", ["patterns=file", "clusters=0"]),
        ("memory", ["clusters=0"]),
    ],
    "attention-heads": [("attention", [])],
}
SLOTS = [(c, f, extra) for c, slots in FIELDS.items() for f, extra in slots]


BAD = [
    "missing",
    "empty",
    "directory",
    "truncated safetensors",
    "garbage safetensors",
    "truncated npy",
    "complex dtype",
    "string dtype",
    "1-D",
    "3-D",
    "0 rows",
    "NaN inside",
    "inf inside",
    "beyond float32",
    "csv text cell",
    "csv ragged",
    "csv not utf-8",
    "csv header only",
    "unknown extension",
    "npz as npy",
    "pt two tensors",
    "garbage pt",
]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    files = make_bad_files(tmp_path_factory.mktemp("bad"))
    assert sorted(files) == sorted(BAD)
    return files


@pytest.fixture(scope="module")
def memory(tmp_path_factory):
    path = tmp_path_factory.mktemp("mem") / "memory.safetensors"
    save_memory(
        path, torch.from_numpy(np.random.default_rng(1).choice([-1.0, 1.0], (6, D)).astype(np.float32)), {}
    )
    return path


# Every bad file through patterns.path of every command (the shared loader); a representative subset through the
# other fields, whose readers are separate (queries_file shares load_matrix; memory and attention do not).
REPRESENTATIVE = [
    "missing",
    "empty",
    "directory",
    "truncated safetensors",
    "truncated npy",
    "3-D",
    "NaN inside",
    "garbage pt",
]
MATRIX = [
    (c, f, extra, name) for c, f, extra in SLOTS for name in (BAD if f == "patterns.path" else REPRESENTATIVE)
]


@pytest.mark.parametrize(
    ("command", "field", "extra", "name"), MATRIX, ids=[f"{c}:{f}:{n}" for c, f, _, n in MATRIX]
)
def test_bad_file_is_one_line_naming_the_field(tmp_path, bad_files, memory, command, field, extra, name):
    path, contains = bad_files[name]
    args = [*SMALL[command], *extra, f"{field}={path}"]
    if field == "queries_file":
        args.append(f"memory={memory}")
    if field in ("memory", "attention") and name in ("string dtype", "complex dtype", "1-D", "3-D"):
        contains = ""  # these fields read safetensors memories / attention tensors with their own words
    if field in ("memory", "attention"):  # their loaders describe the problem in their own words
        contains = ""
    result = invoke(command, *args, run_dir=tmp_path / "run")
    assert_one_clean_line(result, field, contains)


def test_memory_with_wrong_dtype_or_no_metadata_is_refused(tmp_path):
    save_file({"patterns": np.zeros((4, D), np.float64)}, str(tmp_path / "f64.safetensors"))
    result = invoke(
        "retrieve", *SMALL["retrieve"], f"memory={tmp_path / 'f64.safetensors'}", run_dir=tmp_path / "r"
    )
    assert_one_clean_line(result, "memory", "not a hopfield memory file")


def test_edited_memory_fails_its_checksum(tmp_path, memory):
    data = bytearray(memory.read_bytes())
    data[-1] ^= 0x40  # flip one bit of the last float
    (tmp_path / "edited.safetensors").write_bytes(bytes(data))
    for command in ("retrieve", "capacity-sweep", "metastable-scan"):
        extra = {"metastable-scan": ["clusters=0"], "capacity-sweep": ["models=[modern]"]}.get(command, [])
        result = invoke(
            command,
            *SMALL[command],
            *extra,
            f"memory={tmp_path / 'edited.safetensors'}",
            run_dir=tmp_path / command,
        )
        assert_one_clean_line(result, "memory", "checksum")


def test_queries_whose_d_differs_from_the_memory(tmp_path, memory):
    np.save(tmp_path / "q.npy", np.ones((3, D + 1), np.float32))
    result = invoke(
        "retrieve", f"memory={memory}", f"queries_file={tmp_path / 'q.npy'}", run_dir=tmp_path / "r"
    )
    assert_one_clean_line(result, "queries_file", "d=9")


def test_capacity_sweep_dims_that_differ_from_the_file(tmp_path, memory):
    result = invoke(
        "capacity-sweep", *SMALL["capacity-sweep"], f"memory={memory}", "dims=[16]", run_dir=tmp_path / "r"
    )
    assert_one_clean_line(result, "dims", "d = 8")


@pytest.mark.parametrize("command", ["store", "retrieve", "capacity-sweep", "metastable-scan"])
@pytest.mark.parametrize("suffix", [".pt", ".pth"])
def test_pickle_payload_never_runs(tmp_path, command, suffix):
    """A .pt file that would create ``pwned`` when unpickled: refused, and the file does not exist afterwards."""
    target = tmp_path / "pwned"
    evil = tmp_path / f"evil{suffix}"
    with open(evil, "wb") as fh:
        pickle.dump(Payload(str(target)), fh)
    torch_style = tmp_path / f"evil_zip{suffix}"
    torch.save({"patterns": torch.zeros(2, D), "x": Payload(str(target))}, torch_style)
    assert not target.exists()
    for path in (evil, torch_style):
        extra = {"metastable-scan": ["clusters=0"], "capacity-sweep": ["models=[modern]"]}.get(command, [])
        result = invoke(
            command, *SMALL[command], *extra, "patterns=file", f"patterns.path={path}", run_dir=tmp_path / "r"
        )
        assert_one_clean_line(result, "patterns.path", "")
        assert not target.exists(), "the pickle's code ran"
    result = invoke("attention-heads", f"attention={torch_style}", run_dir=tmp_path / "a")
    assert_one_clean_line(result, "attention", "")
    assert not target.exists()


@pytest.mark.parametrize("command", ["store", "retrieve", "capacity-sweep", "metastable-scan"])
def test_unreadable_file_simulated(monkeypatch, tmp_path, command):
    """Root reads everything, so permission denial is simulated at both checks: os.access and open()."""
    locked = tmp_path / "locked.npy"
    np.save(locked, np.ones((4, D), np.float32))
    real_access, real_open = os.access, builtins.open
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: False if str(p) == str(locked) else real_access(p, mode, **kw)
    )
    extra = {"metastable-scan": ["clusters=0"], "capacity-sweep": ["models=[modern]"]}.get(command, [])
    result = invoke(
        command, *SMALL[command], *extra, "patterns=file", f"patterns.path={locked}", run_dir=tmp_path / "a"
    )
    assert_one_clean_line(result, "patterns.path", "not readable")
    monkeypatch.setattr(os, "access", real_access)

    def deny(file, *args, **kwargs):
        if str(file) == str(locked):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", deny)
    result = invoke(
        command, *SMALL[command], *extra, "patterns=file", f"patterns.path={locked}", run_dir=tmp_path / "b"
    )
    assert_one_clean_line(result, "patterns.path", "permission denied")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_for_real(tmp_path):
    locked = tmp_path / "locked.npy"
    np.save(locked, np.ones((4, D), np.float32))
    locked.chmod(0)
    result = invoke("store", "patterns=file", f"patterns.path={locked}", run_dir=tmp_path / "r")
    assert_one_clean_line(result, "patterns.path", "not readable")


def test_csv_with_a_header_is_read(tmp_path):
    (tmp_path / "x.csv").write_text(
        "a,b,c,d\n" + "\n".join(",".join(str(v) for v in row) for row in np.eye(4)) + "\n"
    )
    result = invoke(
        "retrieve",
        "patterns=file",
        f"patterns.path={tmp_path / 'x.csv'}",
        "num_queries=4",
        run_dir=tmp_path / "r",
    )
    assert_ok(result)
    assert_finite_tables(tmp_path / "r")


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_images_of_mixed_sizes_and_modes(tmp_path):
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (20, 30), dtype=np.uint8), mode="L").save(folder / "a.png")
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8), mode="RGB").save(folder / "b.jpg")
    Image.fromarray(rng.integers(0, 255, (16, 16, 4), dtype=np.uint8), mode="RGBA").save(folder / "c.png")
    Image.fromarray(rng.integers(0, 65535, (12, 12), dtype=np.uint16)).save(folder / "d.png")
    Image.new("P", (10, 10)).save(folder / "e.png")
    (folder / "notes.txt").write_text("ignored")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    result = invoke(
        "store", "patterns=images", f"patterns.path={folder}", "patterns.side=8", run_dir=tmp_path / "r"
    )
    assert_one_clean_line(result, "patterns.path", "broken.png")
    (folder / "broken.png").unlink()
    for command in ("store", "retrieve", "capacity-sweep", "metastable-scan"):
        extra = {
            "metastable-scan": ["clusters=0", "num_queries=4", "num_betas=3", "plots=false"],
            "capacity-sweep": [
                "models=[modern]",
                "trials=1",
                "num_queries=4",
                "plots=false",
                "refine_steps=0",
            ],
            "retrieve": ["num_queries=4", "corruption=mask_lower_half"],
        }.get(command, [])
        result = invoke(
            command,
            "patterns=images",
            f"patterns.path={folder}",
            "patterns.side=8",
            *extra,
            run_dir=tmp_path / command,
        )
        assert_ok(result)
        if command != "store":
            assert_finite_tables(tmp_path / command)


def test_empty_image_folder(tmp_path):
    (tmp_path / "none").mkdir()
    result = invoke("store", "patterns=images", f"patterns.path={tmp_path / 'none'}", run_dir=tmp_path / "r")
    assert_one_clean_line(result, "patterns.path", "no PNG or JPEG")


# --- issue 12: unusual headers, metadata and dtypes, checked before any data is read ---------------------


def _rewrite_safetensors(src, dst, edit):
    """Copy a safetensors file with its JSON header changed by ``edit(header)`` (the data left as it is)."""
    import json
    import struct

    raw = src.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    edit(header)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    dst.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + length :])
    return dst


def _npy_header_only(path, shape, version=(1, 0)):
    """An .npy whose header claims ``shape`` float32 but holds 64 bytes of data."""
    import struct

    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    size = 10 if version == (1, 0) else 12
    text += " " * (64 - (size + len(text) + 1) % 64) + "\n"
    length = struct.pack("<H" if version == (1, 0) else "<I", len(text))
    path.write_bytes(b"\x93NUMPY" + bytes(version) + length + text.encode() + b"\0" * 64)
    return path


def _edited_memory(tmp_path, memory, name, edit):
    import json

    def metadata(header):
        meta = header["__metadata__"]
        keys = json.loads(meta["json_keys"])
        edit(meta, keys)
        meta["json_keys"] = json.dumps(sorted(set(keys)))

    return _rewrite_safetensors(memory, tmp_path / f"{name}.safetensors", metadata)


MEMORY_EDITS = {  # name -> (edit(metadata, json_keys), substring of the message)
    "nested JSON": (
        lambda m, k: (m.update(source="[" * 100_000 + "]" * 100_000), k.append("source")),
        "malformed",
    ),
    "image_side text": (lambda m, k: (m.update(image_side='"four"'), k.append("image_side")), "image_side"),
    "image_side wrong": (lambda m, k: (m.update(image_side="5"), k.append("image_side")), "image_side = 5"),
    "image_side bool": (lambda m, k: (m.update(image_side="true"), k.append("image_side")), "image_side"),
    "shape edited": (lambda m, k: m.update(num_patterns="7"), "metadata shape"),
}


@pytest.mark.parametrize("name", list(MEMORY_EDITS))
@pytest.mark.parametrize("command", ["retrieve", "capacity-sweep", "metastable-scan"])
def test_edited_memory_metadata_is_one_line_and_no_outputs(tmp_path, memory, command, name):
    """Nested JSON ended in a RecursionError, a wrong image_side in a traceback after results were written."""
    edit, contains = MEMORY_EDITS[name]
    path = _edited_memory(tmp_path, memory, name.replace(" ", "_"), edit)
    extra = {"metastable-scan": ["clusters=0"], "capacity-sweep": ["models=[modern]"]}.get(command, [])
    result = invoke(command, *SMALL[command], *extra, f"memory={path}", run_dir=tmp_path / "run")
    assert_one_clean_line(result, "memory", contains)
    assert not list((tmp_path / "run").glob("*.parquet")) and not list((tmp_path / "run").glob("*.png"))


def test_memory_of_float8_is_refused_from_its_header(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file as save_torch

    save_memory(tmp_path / "m.safetensors", torch.ones(4, D), {})
    with safe_open(str(tmp_path / "m.safetensors"), "pt") as fh:
        metadata = fh.metadata()
    tensor = torch.ones(4, D).to(torch.float8_e4m3fn)
    save_torch({"patterns": tensor}, str(tmp_path / "f8.safetensors"), metadata=metadata)
    result = invoke(
        "retrieve", *SMALL["retrieve"], f"memory={tmp_path / 'f8.safetensors'}", run_dir=tmp_path / "r"
    )
    assert_one_clean_line(result, "memory", "F8_E4M3")


FLOAT8 = [torch.float8_e4m3fn, torch.float8_e5m2]


@pytest.mark.parametrize("dtype", FLOAT8)
def test_float8_patterns_run_as_their_float32_values(tmp_path, dtype):
    """`isfinite` is not implemented for float8: the file crashed. Its values are float32 values exactly, so
    the run must equal the run on the same values stored as float32."""
    from safetensors.torch import save_file as save_torch

    values = torch.from_numpy(np.random.default_rng(3).choice([-1.0, 1.0, 0.5], (8, D)).astype(np.float32))
    save_torch({"patterns": values.to(dtype)}, str(tmp_path / "f8.safetensors"))
    save_torch({"patterns": values}, str(tmp_path / "f32.safetensors"))
    for name in ("f8", "f32"):
        assert_ok(
            invoke(
                "retrieve",
                *SMALL["retrieve"],
                "patterns=file",
                f"patterns.path={tmp_path / name}.safetensors",
                run_dir=tmp_path / name,
            )
        )
    import pandas as pd

    a, b = (
        pd.read_parquet(tmp_path / n / "results.parquet").drop(columns=["seconds"], errors="ignore")
        for n in ("f8", "f32")
    )
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("dtype", FLOAT8)
def test_float8_attention_is_read(tmp_path, dtype):
    from safetensors.torch import save_file as save_torch

    probs = torch.full((2, 3, 4, 4), 0.25).to(dtype)  # 0.25 is exact in every float8
    save_torch({"attentions": probs}, str(tmp_path / "a.safetensors"))
    assert_ok(
        invoke(
            "attention-heads",
            f"attention={tmp_path / 'a.safetensors'}",
            "plots=false",
            run_dir=tmp_path / "r",
        )
    )


HEADER_SLOTS = [  # (command, field, overrides that make the field be read)
    ("store", "patterns.path", ["patterns=file"]),
    ("retrieve", "patterns.path", ["patterns=file"]),
    ("retrieve", "queries_file", []),
    ("capacity-sweep", "patterns.path", ["patterns=file", "models=[modern]"]),
    ("metastable-scan", "patterns.path", ["patterns=file", "clusters=0"]),
    ("attention-heads", "attention", []),
]


@pytest.mark.parametrize("version", [(1, 0), (2, 0)])
@pytest.mark.parametrize(("command", "field", "extra"), HEADER_SLOTS)
def test_npy_header_claiming_petabytes_is_a_file_error(tmp_path, memory, command, field, extra, version):
    """It was `memory: ran out of memory during the run`: np.load allocated what the header claimed."""
    shape = (10**9, 10**6) if field != "attention" else (10**5, 10**4, 10**3, 10**3)
    path = _npy_header_only(tmp_path / "huge.npy", shape, version)
    args = [*SMALL[command], *extra, f"{field}={path}"]
    if field == "queries_file":
        args.append(f"memory={memory}")
    result = invoke(command, *args, run_dir=tmp_path / "run")
    line = assert_one_clean_line(result, field, "header says")
    assert "PiB" in line and "truncated or its header is wrong" in line
    assert not (tmp_path / "run").exists()


def _safetensors_with_header(path, header: bytes, data: bytes):
    import struct

    header += b" " * ((8 - len(header) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)
    return path


SAFETENSORS_HEADERS = {  # name -> raw JSON header of a file holding 32 bytes of data
    "nested JSON": b'{"patterns": {"dtype": "F32", "shape": [4, 2], "data_offsets": [0, 32]}, "deep": '
    + b"[" * 5000
    + b"]" * 5000
    + b"}",
    "claims 3.5 PiB": b'{"patterns": {"dtype": "F32", "shape": [1000000000, 1000000], '
    b'"data_offsets": [0, 4000000000000000]}}',
    "header length 2^60": None,
}


@pytest.mark.parametrize("name", list(SAFETENSORS_HEADERS))
@pytest.mark.parametrize(("command", "field", "extra"), [*HEADER_SLOTS[:2], ("retrieve", "memory", [])])
def test_safetensors_header_that_lies_is_a_file_error(tmp_path, command, field, extra, name):
    header = SAFETENSORS_HEADERS[name]
    path = tmp_path / "bad.safetensors"
    if header is None:
        import struct

        path.write_bytes(struct.pack("<Q", 1 << 60) + b"{}")
    else:
        _safetensors_with_header(path, header, b"\0" * 32)
    result = invoke(command, *SMALL[command], *extra, f"{field}={path}", run_dir=tmp_path / "run")
    assert_one_clean_line(result, field, "safetensors")
    assert not (tmp_path / "run").exists()


def test_npy_format_3_is_read(tmp_path):
    path = tmp_path / "v3.npy"
    rows = np.random.default_rng(4).choice([-1.0, 1.0], (6, D)).astype(np.float32)
    import struct

    text = f"{{'descr': '<f4', 'fortran_order': False, 'shape': (6, {D}), }}"
    text += " " * (64 - (12 + len(text) + 1) % 64) + "\n"
    path.write_bytes(b"\x93NUMPY\x03\x00" + struct.pack("<I", len(text)) + text.encode() + rows.tobytes())
    assert_ok(invoke("store", "patterns=file", f"patterns.path={path}", run_dir=tmp_path / "r"))

"""Pattern sources, normalisation and binarisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hopfield_cli.data.patterns import (
    binarise,
    binary,
    correlated,
    correlated_prototype,
    gaussian,
    make_patterns,
    normalise,
    sphere,
)
from hopfield_cli.errors import UsageError

from .conftest import spec

GENERATED = [
    spec("binary"),
    spec("gaussian"),
    spec("sphere", radius_k=3.0),
    spec("correlated", correlation=0.4, entries="binary"),
    spec("correlated", correlation=0.4, entries="gaussian"),
]


@pytest.mark.parametrize("cfg", GENERATED, ids=lambda c: "-".join(str(v) for v in vars(c).values()))
def test_same_seed_same_tensor_and_shape(cfg, gen):
    a = make_patterns(cfg, 7, 33, gen(5))
    b = make_patterns(cfg, 7, 33, gen(5))
    c = make_patterns(cfg, 7, 33, gen(6))
    assert a.shape == (7, 33) and a.dtype == torch.float32 and a.device.type == "cpu"
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_binary_is_uniform_signs(gen):
    x = binary(400, 250, gen())
    assert set(x.unique().tolist()) == {-1.0, 1.0}
    assert abs(x.mean().item()) < 0.01  # 100k fair signs: std of the mean 0.003


def test_gaussian_moments(gen):
    x = gaussian(400, 250, gen())
    assert abs(x.mean().item()) < 0.01
    assert abs(x.std().item() - 1.0) < 0.01


@pytest.mark.parametrize("k, d", [(1.0, 2), (3.0, 20), (0.5, 75), (2.0, 1000)])
def test_sphere_norms_are_k_sqrt_d_minus_1(k, d, gen):
    x = sphere(50, d, gen(), radius_k=k)
    expected = torch.full((50,), k * math.sqrt(d - 1))
    torch.testing.assert_close(x.norm(dim=1), expected, rtol=1e-6, atol=0.0)


def test_sphere_directions_have_no_preferred_direction(gen):
    x = sphere(4000, 10, gen(), radius_k=1.0)
    unit = x / x.norm(dim=1, keepdim=True)
    # The mean of uniform unit vectors is 0 (std per coordinate 1/sqrt(4000 * 10) = 0.005).
    assert unit.mean(dim=0).abs().max().item() < 0.025


@pytest.mark.parametrize("entries", ["binary", "gaussian"])
@pytest.mark.parametrize("rho", [0.0, 0.3, 0.8])
def test_correlated_overlap_is_rho(entries, rho, gen):
    n, d = 60, 4000
    x = correlated(n, d, gen(1), rho=rho, entries=entries).double()
    overlaps = (x @ x.T) / d  # (N, N)
    off_diagonal = overlaps[~torch.eye(n, dtype=torch.bool)]
    assert abs(off_diagonal.mean().item() - rho) < 0.03
    if entries == "binary":
        assert set(x.unique().tolist()) <= {-1.0, 1.0}
    else:
        assert abs(overlaps.diagonal().mean().item() - 1.0) < 0.03  # unit-variance entries


def test_correlated_binary_pairwise_agreement(gen):
    # Two patterns agree on a component with probability (1 + rho) / 2.
    rho, n, d = 0.49, 40, 5000
    x = correlated(n, d, gen(2), rho=rho)
    agree = (x[:, None, :] == x[None, :, :]).double().mean(dim=2)
    off = agree[~torch.eye(n, dtype=torch.bool)]
    assert abs(off.mean().item() - (1 + rho) / 2) < 0.015


@pytest.mark.parametrize("entries", ["binary", "gaussian"])
def test_correlated_draws_its_prototype_first(entries, gen):
    # Without a prototype the patterns are those around correlated_prototype's first draw of the same
    # generator: a caller drawing blocks shares one prototype and gets the same first block.
    g = gen(7)
    prototype = correlated_prototype(50, g, entries)
    assert prototype.shape == (1, 50)
    shared = correlated(6, 50, g, rho=0.5, entries=entries, prototype=prototype)
    assert torch.equal(correlated(6, 50, gen(7), rho=0.5, entries=entries), shared)


def test_correlated_blocks_around_one_prototype_stay_correlated(gen):
    rho, d = 0.64, 3000
    prototype = correlated_prototype(d, gen(0), "binary")
    a = correlated(20, d, gen(1), rho=rho, prototype=prototype).double()
    b = correlated(20, d, gen(2), rho=rho, prototype=prototype).double()
    assert abs(((a @ b.T) / d).mean().item() - rho) < 0.03
    with pytest.raises(ValueError):
        correlated(2, d, gen(), prototype=prototype[:, :-1])


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda g: correlated(3, 4, g, rho=1.0), "patterns.correlation"),
        (lambda g: correlated(3, 4, g, rho=-0.1), "patterns.correlation"),
        (lambda g: correlated(3, 4, g, rho=float("nan")), "patterns.correlation"),
        (lambda g: correlated(3, 4, g, rho="high"), "patterns.correlation"),
        (lambda g: correlated(3, 4, g, rho=0.2, entries="uniform"), "patterns.entries"),
        (lambda g: correlated_prototype(4, g, entries="uniform"), "patterns.entries"),
        (lambda g: sphere(3, 4, g, radius_k=0.0), "patterns.radius_k"),
        (lambda g: sphere(3, 4, g, radius_k=float("inf")), "patterns.radius_k"),
        (lambda g: sphere(3, 1, g), "dim"),
        (lambda g: binary(0, 4, g), "num_patterns"),
        (lambda g: gaussian(3, -1, g), "dim"),
        (lambda g: binary(2.5, 4, g), "num_patterns"),
    ],
)
def test_generator_parameter_errors(call, field, gen):
    with pytest.raises(UsageError) as info:
        call(gen())
    assert info.value.field == field


def test_make_patterns_errors(gen, tmp_path):
    with pytest.raises(UsageError) as info:
        make_patterns(spec("uniform"), 3, 4, gen())
    assert info.value.field == "patterns.name" and "binary" in info.value.message
    with pytest.raises(UsageError) as info:
        make_patterns(spec("file"), None, None, gen())
    assert info.value.field == "patterns.path"
    with pytest.raises(UsageError) as info:
        make_patterns(spec("binary"), None, 4, gen())
    assert info.value.field == "num_patterns"
    with pytest.raises(UsageError) as info:
        make_patterns(spec("file", path=str(tmp_path / "nope.npy")), None, None, gen())
    assert info.value.field == "patterns.path" and "no such file" in info.value.message


def test_make_patterns_from_file_selects_rows_and_checks_dim(gen, tmp_path):
    data = np.arange(30, dtype=np.float64).reshape(6, 5)
    np.save(tmp_path / "p.npy", data)
    cfg = spec("file", path=str(tmp_path / "p.npy"))
    info: dict = {}
    x = make_patterns(cfg, None, None, gen(), info=info)
    assert torch.equal(x, torch.from_numpy(data).float())
    assert info == {"source": "file", "path": str(tmp_path / "p.npy")}
    assert torch.equal(make_patterns(cfg, 4, 5, gen()), x[:4])
    with pytest.raises(UsageError) as err:
        make_patterns(cfg, None, 6, gen())
    assert err.value.field == "dim" and "d = 5" in err.value.message
    with pytest.raises(UsageError) as err:
        make_patterns(cfg, 7, None, gen())
    assert err.value.field == "num_patterns" and "only 6" in err.value.message


def test_make_patterns_from_images_records_names(gen, image_folder):
    info: dict = {}
    x = make_patterns(spec("images", path=str(image_folder), side=16), 3, 256, gen(), info=info)
    assert x.shape == (3, 256)
    assert info["image_side"] == 16
    assert info["file_names"] == ["a_square_rgba.png", "b_circle_rgb.png", "c_circle_p.png"]
    with pytest.raises(UsageError) as err:
        make_patterns(spec("images", path=str(image_folder), side=16), None, 4096, gen())
    assert err.value.field == "dim" and "side * side" in err.value.message


def test_make_patterns_records_parameters(gen):
    info: dict = {}
    make_patterns(spec("correlated", correlation=0.25, entries="gaussian"), 2, 3, gen(), info=info)
    assert info == {"source": "correlated", "correlation": 0.25, "entries": "gaussian"}


def test_make_patterns_reads_the_correlation_field(gen):
    # The correlated option names the parameter ``correlation``; ``entries`` defaults to binary.
    by_key = make_patterns(spec("correlated", correlation=0.9), 30, 400, gen(4))
    explicit = make_patterns(spec("correlated", correlation=0.9, entries="binary"), 30, 400, gen(4))
    assert torch.equal(by_key, correlated(30, 400, gen(4), rho=0.9)) and torch.equal(by_key, explicit)
    with pytest.raises(UsageError) as err:
        make_patterns(spec("correlated", correlation=1.5), 3, 4, gen())
    assert err.value.field == "patterns.correlation"


def test_normalise_modes(gen):
    x = gaussian(20, 9, gen()) * 3 + 1
    torch.testing.assert_close(normalise(x, "none"), x)
    torch.testing.assert_close(normalise(x, "unit").norm(dim=1), torch.ones(20))
    centered = normalise(x, "center")
    torch.testing.assert_close(centered, x - x.mean(dim=0), rtol=0, atol=0)
    torch.testing.assert_close(centered.mean(dim=0), torch.zeros(9), rtol=0, atol=1e-5)
    standard = normalise(x, "standard")
    torch.testing.assert_close(standard, centered / centered.norm(dim=1, keepdim=True))
    assert normalise(x, "unit") is not x


def test_normalise_errors():
    with pytest.raises(UsageError) as err:
        normalise(torch.ones(2, 3), "zscore")
    assert err.value.field == "patterns.normalise"
    with pytest.raises(UsageError) as err:
        normalise(torch.tensor([[1.0, 2.0], [0.0, 0.0]]), "unit")
    assert "pattern 1 has norm 0" in err.value.message
    with pytest.raises(UsageError) as err:
        normalise(torch.tensor([[1.0, 2.0]]), "standard")  # one pattern equals the mean
    assert "pattern 0" in err.value.message and "centering" in err.value.message


def test_binarise_maps_zero_to_plus_one():
    x = torch.tensor([[-2.5, 0.0, 3.0, -0.0, 1e-9]], dtype=torch.float64)
    out = binarise(x)
    assert out.dtype == torch.float64
    assert out.tolist() == [[-1.0, 1.0, 1.0, 1.0, 1.0]]

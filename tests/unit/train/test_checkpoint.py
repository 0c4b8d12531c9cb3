"""Checkpoints: safetensors round trip, atomic replace, and refusal of pickles and mismatched weights."""

from __future__ import annotations

import pickle

import pytest
import torch

from sccg_edge.engine.checkpoint import load_checkpoint, save_checkpoint
from sccg_edge.errors import InputError
from sccg_edge.models import build_generator
from sccg_edge.models.loading import load_generator, save_generator
from sccg_edge.models.weights import load_module


def _tiny():
    return build_generator("paper", ngf=4, n_blocks=1)


def test_checkpoint_round_trip_with_optimizer(tmp_path):
    torch.manual_seed(0)
    g = _tiny()
    opt = torch.optim.Adam(g.parameters(), lr=1e-3)
    g(torch.randn(1, 1, 16, 16)).mean().backward()
    opt.step()
    save_checkpoint(tmp_path / "ck", {"g": g}, {"opt": opt}, {"epoch": 3, "global_step": 7}, "seed: 0\n")
    g2 = _tiny()
    opt2 = torch.optim.Adam(g2.parameters(), lr=1e-3)
    state = load_checkpoint(tmp_path / "ck", {"g": g2}, {"opt": opt2})
    assert state["epoch"] == 3 and state["global_step"] == 7
    for a, b in zip(g.state_dict().values(), g2.state_dict().values()):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert s1.keys() == s2.keys()
    assert all(torch.equal(s1[k]["exp_avg"], s2[k]["exp_avg"]) for k in s1)
    # replacing keeps exactly one complete folder and no temporary leftovers
    save_checkpoint(tmp_path / "ck", {"g": g}, {"opt": opt}, {"epoch": 4, "global_step": 9}, "seed: 0\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck"]
    assert load_checkpoint(tmp_path / "ck", {"g": g2})["epoch"] == 4


def test_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    bad = tmp_path / "model.pt"
    bad.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(InputError, match="pickled checkpoints are refused"):
        load_generator(bad, "mr2ct")
    renamed = tmp_path / "g_mr2ct.safetensors"
    renamed.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(InputError, match="safetensors"):
        load_module(_tiny(), renamed)
    assert not marker.exists()


def test_mismatched_weights_are_named(tmp_path):
    save_generator(_tiny(), tmp_path / "g.safetensors", "mr2ct", size=32)
    wider = build_generator("paper", ngf=8, n_blocks=1)
    with pytest.raises(InputError, match="wrong shape"):
        load_module(wider, tmp_path / "g.safetensors")
    loaded = load_generator(tmp_path / "g.safetensors", "mr2ct")
    assert loaded.config.ngf == 4 and loaded.size == 32
    with pytest.raises(InputError, match="holds the mr2ct generator"):
        load_generator(tmp_path / "g.safetensors", "ct2mr")


def test_truncated_weights_file(tmp_path):
    save_generator(_tiny(), tmp_path / "g.safetensors", "mr2ct", size=32)
    data = (tmp_path / "g.safetensors").read_bytes()
    (tmp_path / "g.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError):
        load_generator(tmp_path / "g.safetensors", "mr2ct")

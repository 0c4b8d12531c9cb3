"""Recipes, overrides and their errors."""

from __future__ import annotations

import pytest

from sccg_edge.config import TrainConfig, apply_overrides, load_recipe, parse_set, recipe_names
from sccg_edge.errors import ConfigError


def test_paper_recipe_is_table_1():
    cfg = load_recipe("paper")
    assert (cfg.data.size, cfg.optim.lr, cfg.optim.batch_size, cfg.optim.epochs) == (512, 1e-4, 8, 200)
    assert (cfg.loss.lambda_adv, cfg.loss.lambda_pix, cfg.loss.lambda_str) == (1.0, 100.0, 10.0)
    assert cfg.model.generator == "paper" and cfg.model.ngf == 0 and cfg.model.ndf == 64


def test_recipes_listed():
    assert {"paper", "cpu"} <= set(recipe_names())


def test_overrides_apply_and_type_check():
    cfg = load_recipe("cpu", overrides=parse_set(["optim.lr=3e-4", "data.crop=64", "loss.paired=false"]))
    assert cfg.optim.lr == 3e-4 and cfg.data.crop == 64 and cfg.loss.paired is False
    with pytest.raises(ConfigError, match="optim.lr"):
        apply_overrides(cfg, {"optim.lr": "fast"})
    with pytest.raises(ConfigError, match="unknown key 'optim.learning_rate'"):
        apply_overrides(cfg, {"optim.learning_rate": 1.0})
    with pytest.raises(ConfigError, match="schedule"):
        apply_overrides(cfg, {"optim.schedule": "exponential"})


def test_recipe_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("optim:\n  epochz: 3\n")
    with pytest.raises(ConfigError, match=r"r\.yaml.*unknown key 'optim.epochz'"):
        load_recipe(str(bad))
    bad.write_text("data: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_recipe(str(bad))
    bad.write_text("seed: 1.5\n")
    with pytest.raises(ConfigError, match="'seed' must be int"):
        load_recipe(str(bad))
    with pytest.raises(ConfigError, match="unknown recipe"):
        load_recipe("no-such-recipe")


def test_bool_is_not_an_int():
    with pytest.raises(ConfigError):
        apply_overrides(TrainConfig(), {"seed": True})

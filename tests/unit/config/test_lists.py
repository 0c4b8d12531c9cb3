"""List-valued config keys: YAML lists, and the comma-separated strings of the command line and older config files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from sccg_edge.config import (
    DataConfig,
    DistillConfig,
    QuantConfig,
    SuiteConfig,
    TrainConfig,
    dump_yaml,
    load_config,
    load_recipe,
    parse_set,
)
from sccg_edge.errors import ConfigError


def test_yaml_lists_and_comma_strings_give_the_same_tuple(tmp_path: Path) -> None:
    listed = load_recipe("cpu", overrides=parse_set(["data.train_patients=[2, 16]", "data.test_patients=34"]))
    comma = load_recipe("cpu", overrides=parse_set(["data.train_patients=2,16", "data.test_patients=34"]))
    assert listed.data == comma.data and listed.data.train_patients == ("2", "16")  # bare ids are read as text
    assert comma.data.test_patients == ("34",) and comma.data.val_patients == ()
    assert DataConfig(train_patients=" 2, 16,,") == DataConfig(train_patients=("2", "16"))


def test_a_config_written_before_lists_still_loads(tmp_path: Path) -> None:
    old = tmp_path / "config.yaml"
    old.write_text("data:\n  train_patients: '2,16'\n  val_patients: ''\n  test_patients: '34'\n"
                   "loss:\n  lambda_pix: 50.0\n")
    cfg = load_recipe(str(old))
    assert cfg.data.train_patients == ("2", "16") and cfg.data.val_patients == () and cfg.loss.lambda_pix == 50.0
    distill = tmp_path / "distill.yaml"
    distill.write_text("loss:\n  feature_pairs: enc:enc,block2:block4\n")
    assert load_config(str(distill), DistillConfig).loss.feature_pairs == ("enc:enc", "block2:block4")


def test_the_resolved_yaml_holds_lists_and_reloads_to_the_same_config(tmp_path: Path) -> None:
    cfg = load_recipe("cpu", overrides={"data.train_patients": ["p1", "p2"], "data.test_patients": "p3"})
    text = dump_yaml(cfg)
    assert yaml.safe_load(text)["data"]["train_patients"] == ["p1", "p2"]
    (tmp_path / "c.yaml").write_text(text)
    assert load_recipe(str(tmp_path / "c.yaml")) == cfg


def test_integer_lists_and_their_errors() -> None:
    assert SuiteConfig(sizes="512, 256").sizes == (512, 256) == SuiteConfig(sizes=[512, 256]).sizes
    assert SuiteConfig(sizes=256).sizes == (256,)
    with pytest.raises(ConfigError, match="'sizes' must be a list of integers"):
        SuiteConfig(sizes="512,big")
    with pytest.raises(ConfigError, match=r"sizes\[1\]' must be int"):
        SuiteConfig(sizes=[512, "x"])
    assert QuantConfig(keep_fp32="head, blocks/block0").keep_fp32 == ("head", "blocks/block0")
    assert QuantConfig(keep_fp32="").keep_fp32 == ()
    with pytest.raises(ConfigError, match="keep_fp32"):
        QuantConfig(keep_fp32=["tail"])
    assert TrainConfig().data.train_patients == ()


def test_every_stage_config_takes_set_overrides() -> None:
    from sccg_edge.config import ConvertConfig, EvalConfig, ExportConfig, ExportProfile, apply_overrides

    conv = apply_overrides(ConvertConfig(model="teacher"), parse_set(["size=128", "backend=openvino"]))
    assert (conv.size, conv.backend, conv.series) == (128, "openvino", None)
    exp = apply_overrides(ExportConfig(profile=ExportProfile(sizes=(256,))), parse_set(["profile.sizes=[512,256]"]))
    assert exp.profile.sizes == (512, 256)
    assert apply_overrides(EvalConfig(), parse_set(["patients=33,34"])).patients == ("33", "34")
    with pytest.raises(ConfigError, match="unknown key 'nope'"):
        apply_overrides(ConvertConfig(), {"nope": 1})


def test_a_bad_set_is_one_error_line(capsys: pytest.CaptureFixture) -> None:
    from sccg_edge.cli import main

    rc = main(["evaluate", "--model", "teacher", "--set", "sise=128"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: --set: unknown key 'sise'") and len(err.strip().splitlines()) == 1

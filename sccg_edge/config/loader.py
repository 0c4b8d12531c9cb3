"""The one config system: YAML recipes -> frozen dataclasses, ``--set key=value`` overrides, and a resolved dump.

A recipe is a YAML file whose keys mirror a config dataclass (one per stage, in :mod:`sccg_edge.config`). Unknown keys
and wrong types are refused with a :class:`ConfigError` that names the key, the file and the accepted values; nothing
is silently ignored. Lists are YAML lists and land in ``tuple[...]`` fields. A list field also takes one string of
comma-separated items: that is how lists arrive from the command line (``--sizes 512,256``,
``--set data.train_patients=2,16``) and how config files written before lists were lists hold them, so committed
runs and commands keep working. This module is the only place that reads such a string.

The resolved configuration is written as ``config.yaml`` beside every checkpoint and artifact
(:func:`dump_yaml`), so a run can always be reproduced.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sccg_edge.config.bounds import check_fields, check_value, field_bounds
from sccg_edge.errors import ConfigError
from sccg_edge.utils.fs import atomic_write_text

C = TypeVar("C")

#: Accepted values of string keys, by their dotted name in a config (any config that has the key).
CHOICES: dict[str, tuple[str, ...]] = {
    "device": ("auto", "cpu", "cuda"),
    "amp": ("none", "bf16", "fp16"),
    "optim.schedule": ("constant", "linear", "cosine"),
    "data.register": ("none", "rigid", "affine"),
    "budget_clock": ("wall", "cpu"),
    "data.ct_window": ("brain", "subdural", "stroke", "bone", "head"),  # sccg_edge.data.transforms.CT_WINDOWS
}


def recipe_names() -> list[str]:
    """Names of the packaged recipes (``sccg_edge/recipes/*.yaml``)."""
    return sorted(p.name[:-5] for p in resources.files("sccg_edge.recipes").iterdir() if p.name.endswith(".yaml"))


def read_yaml_mapping(path: Path, what: str = "recipe") -> dict[str, Any]:
    """The mapping in a YAML file; ConfigError (naming the file and the place) when it is not one."""
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML{_where(err)}: {_problem(err)}; fix the {what}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping of keys to values, not {type(raw).__name__}")
    return raw


def load_config(name_or_path: str, cls: type[C], overrides: dict[str, Any] | None = None) -> C:
    """Build config dataclass ``cls`` from a packaged recipe name or a YAML path, then apply dotted overrides.

    Args:
        name_or_path: a packaged recipe (``paper``, ``cpu``, ``distill``, ...) or a YAML file.
        cls: the config dataclass.
        overrides: ``{"optim.lr": 2e-4, ...}`` (see :func:`parse_set`).
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError("recipe file not found; give a packaged recipe name "
                              f"({', '.join(recipe_names())}) or a YAML path", path)
        text, source = path.read_text(), str(path)
    else:
        res = resources.files("sccg_edge.recipes") / f"{name_or_path}.yaml"
        if not res.is_file():
            raise ConfigError(f"unknown recipe '{name_or_path}'; choose one of: {', '.join(recipe_names())}")
        text, source = res.read_text(), f"recipe '{name_or_path}'"
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{source} is not valid YAML{_where(err)}: {_problem(err)}; fix the file or pass a packaged "
                          f"recipe ({', '.join(recipe_names())})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source} must be a mapping of keys to values, not {type(raw).__name__}")
    cfg = from_dict(cls, raw, source)
    return apply_overrides(cfg, overrides or {}, source="command line")


def _where(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _problem(err: yaml.YAMLError) -> str:
    return getattr(err, "problem", None) or str(err).splitlines()[0]


def from_dict(cls: type[C], raw: dict[str, Any], source: str, prefix: str = "") -> C:
    """Build dataclass ``cls`` from a nested dict, refusing unknown keys and wrong types."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    names = set(fields)
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if key not in names:
            raise ConfigError(f"{source}: unknown key '{dotted}'; valid keys here: {', '.join(sorted(names))}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: '{dotted}' must be a mapping, got {value!r}")
            kwargs[key] = from_dict(hint, value, source, prefix=f"{dotted}.")  # type: ignore[arg-type]
        else:
            kwargs[key] = coerce(value, hint, dotted, source)
            check_value(kwargs[key], field_bounds(fields[key]), dotted, source)
    return cls(**kwargs)


def coerce(value: Any, hint: Any, dotted: str, source: str) -> Any:
    """``value`` as the type ``hint`` of config key ``dotted``, or ConfigError naming the key and ``source``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [h for h in typing.get_args(hint) if h is not type(None)]
        if value is None and len(args) < len(typing.get_args(hint)):
            return None
        hint = args[0]
    if typing.get_origin(hint) is tuple:
        return _coerce_list(value, typing.get_args(hint)[0], dotted, source)
    if hint is Any:
        return value
    if hint is str and isinstance(value, int) and not isinstance(value, bool):  # YAML reads a bare id "33" as int
        value = str(value)
    if hint is float and isinstance(value, str):  # YAML 1.1 reads "3e-4" (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    ok = ((hint is bool and isinstance(value, bool))
          or (hint is int and isinstance(value, int) and not isinstance(value, bool))
          or (hint is float and isinstance(value, (int, float)) and not isinstance(value, bool))
          or (hint is str and isinstance(value, str)))
    if not ok:
        name = getattr(hint, "__name__", str(hint))
        raise ConfigError(f"{source}: '{dotted}' must be {name}, got {value!r} ({type(value).__name__})")
    value = float(value) if hint is float else value
    if dotted in CHOICES and value not in CHOICES[dotted]:
        raise ConfigError(f"{source}: '{dotted}' must be one of {', '.join(CHOICES[dotted])}, got {value!r}")
    return value


def _coerce_list(value: Any, item: Any, dotted: str, source: str) -> tuple[Any, ...]:
    """A list key: a YAML list, one scalar, or one comma-separated string (command line, older config files)."""
    if isinstance(value, str):
        items: list[Any] = [t.strip() for t in value.split(",") if t.strip()]
        if item is int:
            try:
                items = [int(t) for t in items]
            except ValueError:
                raise ConfigError(f"{source}: '{dotted}' must be a list of integers, got {value!r}") from None
    elif isinstance(value, (list, tuple)):
        items = list(value)
    elif value is None:
        items = []
    else:
        items = [value]
    return tuple(coerce(v, item, f"{dotted}[{i}]", source) for i, v in enumerate(items))


def normalize(cfg: Any) -> None:
    """Coerce the list fields of a config dataclass in place and check every number's range (from ``__post_init__``).

    A config built in code (``SuiteConfig(sizes="512,256")``) then holds the same tuples as one read from YAML, and
    the same ranges (:mod:`sccg_edge.config.bounds`) hold for it as for one read from a recipe or ``--set``.
    """
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        hint = hints[f.name]
        if typing.get_origin(hint) is tuple or any(typing.get_origin(a) is tuple for a in typing.get_args(hint)):
            object.__setattr__(cfg, f.name, coerce(getattr(cfg, f.name), hint, f.name, type(cfg).__name__))
    check_fields(cfg, type(cfg).__name__.removesuffix("Config").lower() + " settings")


def apply_overrides(cfg: C, overrides: dict[str, Any], source: str = "overrides") -> C:
    """Return ``cfg`` with dotted keys replaced (``{"optim.lr": 2e-4}``), type-checked like a recipe."""
    if not overrides:
        return cfg
    data = to_dict(cfg)
    for dotted, value in overrides.items():
        node = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise ConfigError(f"{source}: unknown key '{dotted}'")
            node = node[part]
        if parts[-1] not in node:
            raise ConfigError(f"{source}: unknown key '{dotted}'; valid keys here: {', '.join(sorted(node))}")
        node[parts[-1]] = value
    return from_dict(type(cfg), data, source)


def parse_set(items: list[str]) -> dict[str, Any]:
    """Parse ``--set key=value`` items; values are read as YAML (``1e-4``, ``true``, ``cosine``, ``[2, 16]``)."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got '{item}'")
        key, text = item.split("=", 1)
        out[key.strip()] = yaml.safe_load(text)
    return out


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain nested dict of a config dataclass (tuples become lists, as YAML and JSON write them)."""
    return _lists(dataclasses.asdict(cfg))


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value


def dump_yaml(cfg: Any) -> str:
    """The resolved config as YAML text (the ``config.yaml`` written beside runs and artifacts)."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


def write_yaml(cfg: Any, path: Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    atomic_write_text(path, dump_yaml(cfg))

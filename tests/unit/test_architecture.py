"""The one rule between the parts (ARCHITECTURE.md), checked on the source with ``ast``: nothing is imported to check.

* the core (config, data, models, engine, losses, metrics, backends, utils, errors, registry) imports no stage;
* a stage imports another stage only through that stage's package API (``from sccg_edge.export import to_openvino``,
  names in its ``__all__``), never a module inside it; nothing but the CLI imports ``train``;
* no private name (``_x``) is imported from another module;
* no import circles, but the backend registry's (``backends.base`` <-> the ``*_backend`` modules it registers);
* imports inside functions only for the heavy optional runtimes (and in the CLI, which stays lean for ``--help``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "sccg_edge"
CORE = {"config", "data", "models", "engine", "losses", "metrics", "backends", "utils", "errors", "registry",
        "recipes", "weights", "__init__"}
STAGES = {"train", "distill", "quantize", "export", "bench", "convert", "ship", "evaluate", "serve", "review", "demo"}
TOP = {"cli", "__main__"}
#: what may be imported inside a function: the heavy optional runtimes (ARCHITECTURE.md); optional extras (SimpleITK
#: for pair registration, tensorboard for logging); the serve node's DICOM networking stack (pynetdicom, kept out of
#: ``import sccg_edge.serve``); and matplotlib's pyplot (its backend is chosen first). A package module that imports
#: one of them at its top counts as heavy too.
LAZY_OK = {"openvino", "nncf", "onnxruntime", "tensorrt", "torch_tensorrt", "SimpleITK", "matplotlib",
           "torch.utils.tensorboard", "pynetdicom",
           "onnx"}  # onnx: ~0.3 s of start-up an OpenVINO conversion does not need (artifact metadata reads it lazily)
REGISTRY_CYCLE = {"sccg_edge.backends.base", "sccg_edge.backends.onnxruntime_backend",
                  "sccg_edge.backends.openvino_backend", "sccg_edge.backends.tensorrt_backend",
                  "sccg_edge.backends.torch_backend"}


@dataclass(frozen=True)
class Edge:
    source: str  # importing module
    target: str  # imported module (resolved to a module of the package, or the external top-level name)
    names: tuple[str, ...]  # names taken from it ("*" for ``import x``)
    lazy: bool  # inside a function
    line: int


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PKG.rglob("*.py")}


def _resolve(module: str, name: str | None) -> str:
    """``from module import name``: the submodule when ``name`` is one, else ``module`` itself."""
    if name and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    return module


def _edges(module: str, path: Path) -> list[Edge]:
    edges: list[Edge] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # type hints only: no import at run time
            if isinstance(child, ast.Import):
                for alias in child.names:
                    edges.append(Edge(module, alias.name, ("*",), lazy, child.lineno))
            elif isinstance(child, ast.ImportFrom) and child.module and child.module != "__future__":
                if child.module.startswith("sccg_edge"):
                    for alias in child.names:
                        edges.append(Edge(module, _resolve(child.module, alias.name), (alias.name,), lazy,
                                          child.lineno))
                else:
                    edges.append(Edge(module, child.module, tuple(a.name for a in child.names), lazy, child.lineno))
            visit(child, lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(ast.parse(path.read_text()), False)
    return edges


EDGES = [e for m, p in MODULES.items() for e in _edges(m, p)]
INTERNAL = [e for e in EDGES if e.target.startswith("sccg_edge")]


def part(module: str) -> str:
    """The part of the package a module belongs to: ``sccg_edge.bench.runner`` -> ``bench``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_is_in_a_known_part() -> None:
    unknown = sorted({part(m) for m in MODULES} - CORE - STAGES - TOP)
    assert not unknown, f"add these to CORE or STAGES (and to ARCHITECTURE.md): {unknown}"


def test_the_core_imports_no_stage() -> None:
    bad = [f"{e.source}:{e.line} -> {e.target}" for e in INTERNAL
           if part(e.source) in CORE and part(e.target) not in CORE]
    assert not bad, "the core may not depend on a stage or the CLI:\n" + "\n".join(bad)


def test_stages_meet_only_through_public_package_apis() -> None:
    bad = []
    for e in INTERNAL:
        src, dst = part(e.source), part(e.target)
        if src not in STAGES or dst not in STAGES or src == dst:
            continue
        package = f"sccg_edge.{dst}"
        is_package = (PKG / dst / "__init__.py").is_file()
        if is_package and e.target != package:
            bad.append(f"{e.source}:{e.line} imports {e.target}; use the public API of {package}")
        elif is_package:
            exported = _all_names(MODULES[package])
            bad += [f"{e.source}:{e.line} imports {n} from {package}, which does not export it"
                    for n in e.names if n not in exported]
    assert not bad, "\n".join(bad)


def _all_names(path: Path) -> set[str]:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def test_only_the_cli_imports_train() -> None:
    bad = [f"{e.source}:{e.line}" for e in INTERNAL if part(e.target) == "train" and part(e.source) not in
           ("train", *TOP)]
    assert not bad, "nothing but the CLI imports the train stage: " + ", ".join(bad)


def test_no_private_name_crosses_a_module() -> None:
    bad = [f"{e.source}:{e.line} imports {n} from {e.target}" for e in INTERNAL for n in e.names
           if n.startswith("_") and not n.startswith("__") and e.target != e.source]
    assert not bad, "\n".join(bad)


def test_no_import_circles_but_the_backend_registry() -> None:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for e in INTERNAL:
        if e.target in graph and e.target != e.source:
            graph[e.source].add(e.target)
    cycles = [c for c in _strongly_connected(graph) if len(c) > 1 and not set(c) <= REGISTRY_CYCLE]
    assert not cycles, f"import circles: {cycles}"


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    out.append(comp)
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return out


def _heavy(name: str) -> bool:
    return name in LAZY_OK or name.split(".")[0] in LAZY_OK


def heavy_modules() -> set[str]:
    """Package modules that import a heavy runtime at their top, directly or through another such module."""
    heavy: set[str] = set()
    while True:
        more = {e.source for e in EDGES if not e.lazy and (_heavy(e.target) or e.target in heavy)} - heavy
        if not more:
            return heavy
        heavy |= more


def test_lazy_imports_only_for_heavy_optional_runtimes() -> None:
    heavy = heavy_modules()
    bad = []
    for e in EDGES:
        if not e.lazy or part(e.source) in TOP:
            continue
        if e.source == "sccg_edge.backends.base" and e.target in REGISTRY_CYCLE:
            continue  # the registry fills itself on first use
        if _heavy(e.target) or e.target in heavy:
            continue
        bad.append(f"{e.source}:{e.line} imports {e.target} inside a function")
    assert not bad, "import these at the top (cheap) or name the heavy runtime in LAZY_OK:\n" + "\n".join(bad)


@pytest.mark.parametrize("checker", [test_the_core_imports_no_stage, test_no_private_name_crosses_a_module])
def test_the_checks_can_fail(checker, monkeypatch: pytest.MonkeyPatch) -> None:
    """A planted violation is caught (so a green run means something)."""
    planted = [Edge("sccg_edge.data.slices", "sccg_edge.train.run", ("_dist_setup",), False, 1)]
    monkeypatch.setattr(__import__(__name__, fromlist=["x"]), "INTERNAL", INTERNAL + planted)
    with pytest.raises(AssertionError):
        checker()

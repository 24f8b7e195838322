"""The package layout's rules (docs/architecture.md), checked on the installed package.

- import-linter contracts (pyproject.toml): layers, systems independent, no cycles, private
  modules — and a copy of the package with a new circle breaks them;
- private names do not cross package borders; function-local imports only where they keep
  ``import helixkit`` light;
- ``import helixkit`` and ``helixkit --help`` import no torch, numba or matplotlib;
- the old import paths forward with a DeprecationWarning; shipped weights load by name;
- public signatures of the systems name real types, not ``Any``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import helixkit
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(helixkit.__file__).parent
CONFIG = ROOT / "pyproject.toml"

pytest.importorskip("importlinter")


def _lint(pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(CONFIG)!r}, no_cache=True, "
            "no_logo=True))")
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=pythonpath or ROOT, check=False)


def test_import_contracts_hold():
    res = _lint()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "6 kept, 0 broken" in res.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    # a system importing another system
    ("trackformer/model.py", "from ..learned import gc as _gc", "helixkit layers"),
    # the shared layer importing a system (a circle through the registry)
    ("nn/registry.py", "from ..learned import model as _model", "helixkit layers"),
    # a circle inside the learned system: the networks importing the assembled model
    ("learned/edge.py", "from . import model as _model", "learned tracking"),
    # a kernel importing its own demo stage's dependency the other way round
    ("data/event.py", "from ..seeding import metrics as _metrics", "helixkit layers"),
    # a private module used outside its package
    ("graph/metrics.py", "from ..seeding import _toy", "private modules"),
])
def test_a_new_violation_breaks_the_contracts(tmp_path, module, line, contract):
    copy = tmp_path / "helixkit"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("*.pt", "__pycache__"))
    target = copy / module
    target.write_text(target.read_text() + f"\n{line}  # injected by the test\n")
    res = _lint(tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"{contract}" in res.stdout and "BROKEN" in res.stdout


def _modules() -> list[tuple[str, Path, ast.Module]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path, ast.parse(path.read_text())))
    return out


def _resolve(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def test_private_names_stay_inside_their_package():
    """``from X import _name`` (or ``mod._name`` on an imported helixkit module) only from
    inside the package that holds ``_name``."""
    modules = {name for name, _, _ in _modules()}
    bad = []
    for name, path, tree in _modules():
        is_pkg = path.name == "__init__.py"
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                src = _resolve(name, is_pkg, node)
                if not src.startswith("helixkit"):
                    continue
                for a in node.names:
                    full = f"{src}.{a.name}"
                    if full in modules:
                        aliases[a.asname or a.name] = full
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        # the package holding the name: src itself, or src's parent if a module
                        holder = full.rsplit(".", 1)[0] if full in modules else src
                        holder = holder if holder in modules and (
                            PACKAGE.parent / holder.replace(".", "/") / "__init__.py").exists() \
                            else holder.rsplit(".", 1)[0]
                        if not (name == holder or name.startswith(holder + ".")):
                            bad.append(f"{name}: from {src} import {a.name}")
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                  and node.value.id in aliases and node.attr.startswith("_")
                  and not node.attr.startswith("__")):
                holder = aliases[node.value.id].rsplit(".", 1)[0]
                if not (name == holder or name.startswith(holder + ".")):
                    bad.append(f"{name}: {aliases[node.value.id]}.{node.attr}")
    assert not bad, bad


# third-party modules that are slow to import or optional: the only reason for an import
# inside a function (outside the CLI modules, whose handlers import their system lazily)
HEAVY = {"torch", "matplotlib", "mplhep", "acts", "annoy", "pandas", "tqdm", "onnx",
         "onnxruntime", "scipy", "sklearn", "distributed", "dask"}
# helixkit imports kept inside a function, each for a stated reason
ALLOWED_LOCAL = {
    ("helixkit.seeding.hashing_study", "helixkit.data"),  # simulate_event: numba, not at --help
    ("helixkit.data.sources", "helixkit.data.simulation"),  # numba, where the event is made
}


def test_function_local_imports_only_keep_import_light():
    bad, n_local = [], 0
    for name, path, tree in _modules():
        is_pkg = path.name == "__init__.py"
        cli = name.endswith(".cli") or name == "helixkit.cli"
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    targets = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    targets = [_resolve(name, is_pkg, node)]
                else:
                    continue
                n_local += 1
                for t in targets:
                    if t.split(".")[0] in HEAVY or cli or (name, t) in ALLOWED_LOCAL:
                        continue
                    bad.append(f"{name}:{node.lineno} imports {t} inside {fn.name}()")
    assert not bad, "\n".join(bad)
    assert n_local <= 70, n_local   # 180 before the layout change (65 with scale-out)


def _imported_after(code: str) -> set[str]:
    probe = (f"import sys\n{code}\n"
             "print('HEAVY:', *sorted({m.split('.')[0] for m in sys.modules} "
             "& {'torch', 'numba', 'matplotlib', 'pandas', 'scipy'}))")
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)
    return set(res.stdout.rsplit("HEAVY:", 1)[1].split())


@pytest.mark.parametrize("code", [
    "import helixkit",
    "import helixkit.nn, helixkit.learned, helixkit.trackformer, helixkit.distributed",
    "import helixkit.data, helixkit.seeding, helixkit.graph, helixkit.fitting",
    "import helixkit.evaluation",
    *[("from helixkit.cli import main\ntry:\n    main([" + ", ".join(map(repr, argv))
       + "])\nexcept SystemExit:\n    pass")
      for argv in (["--help"], ["train", "--help"], ["evaluate", "--help"], ["interpret", "--help"],
                   ["study", "hashing", "--help"], ["--version"], ["info"])],
])
def test_light_imports(code):
    assert _imported_after(code) == set()


def test_lazy_packages_list_their_api():
    import helixkit.distributed as distributed
    import helixkit.learned as learned
    import helixkit.nn as hnn
    import helixkit.trackformer as trackformer

    for pkg in (hnn, learned, trackformer, distributed):
        for name in pkg.__all__:
            assert getattr(pkg, name) is not None, (pkg.__name__, name)
        assert set(pkg.__all__) <= set(dir(pkg))
        with pytest.raises(AttributeError, match="no attribute"):
            pkg.no_such_name  # noqa: B018
    assert learned.LearnedTracking is importlib.import_module("helixkit.learned.model") \
        .LearnedTracking


OLD_PATHS = [
    ("helixkit.pipeline", "find_tracks", "helixkit.learned.model"),
    ("helixkit.pipeline", "train_edge", "helixkit.learned.train"),
    ("helixkit.pipeline", "evaluate_oc", "helixkit.learned.evaluate"),
    ("helixkit.pipeline", "hit_features", "helixkit.nn.features"),
    ("helixkit.features", "hit_features", "helixkit.nn.features"),
    ("helixkit.models", "pretrained", "helixkit.nn.registry"),
    ("helixkit.models", "config_from_dict", "helixkit.nn.config"),
    ("helixkit.models.edge", "build_tracks", "helixkit.learned.edge"),
    ("helixkit.models.learned", "LearnedTracking", "helixkit.learned.model"),
    ("helixkit.models.trackformer", "TrackFormer", "helixkit.trackformer.model"),
    ("helixkit.training", "Trainer", "helixkit.nn.training"),
    ("helixkit.training", "HitDataset", "helixkit.nn.dataset"),
    ("helixkit.training", "load_json_config", "helixkit.nn.config"),
    ("helixkit.training.learned", "train_learned", "helixkit.learned.train"),
    ("helixkit.training.learned", "train_command", "helixkit.learned.cli"),
    ("helixkit.training.trackformer", "DataConfig", "helixkit.nn.config"),
    ("helixkit.training.trackformer", "evaluate_trackformer", "helixkit.trackformer.evaluate"),
    ("helixkit.demo", "baseline_features", "helixkit.graph.demo"),
]


@pytest.mark.parametrize(("old", "name", "home"), OLD_PATHS)
def test_old_import_paths_warn_and_forward(old, name, home):
    module = importlib.import_module(old)
    with pytest.warns(DeprecationWarning, match=rf"{old}\.{name} is deprecated"):
        value = getattr(module, name)
    assert value is getattr(importlib.import_module(home), name)


def test_old_package_paths_forward_submodules(monkeypatch):
    import helixkit.models as models

    # as if helixkit.models.noise had not been imported yet (then the package forwards it)
    monkeypatch.delitem(sys.modules, "helixkit.models.noise", raising=False)
    monkeypatch.delitem(vars(models), "noise", raising=False)
    with pytest.warns(DeprecationWarning, match="helixkit.learned.noise"):
        noise = models.noise
    assert noise is importlib.import_module("helixkit.learned.noise")
    with pytest.raises(AttributeError, match="nope"):
        models.nope  # noqa: B018


def test_shipped_weights_live_with_their_system_and_load_by_name():
    from helixkit import nn

    assert nn.shipped() == ["deepcore", "hit_tokenizer", "learned_tracking", "next_hit",
                            "next_hit_tokens", "trackformer"]
    assert (PACKAGE / "learned" / "weights" / "learned_tracking.pt").is_file()
    assert (PACKAGE / "deepcore" / "weights" / "deepcore.pt").is_file()
    assert (PACKAGE / "trackformer" / "weights" / "trackformer.pt").is_file()
    for name in ("hit_tokenizer", "next_hit", "next_hit_tokens"):
        assert (PACKAGE / "tokens" / "weights" / f"{name}.pt").is_file()
    for name, module in nn.BUILTIN.items():
        cls = importlib.import_module(module)
        assert any(getattr(v, "model_name", None) == name for v in vars(cls).values()), name
    assert type(nn.pretrained("trackformer")).__module__ == "helixkit.trackformer.model"
    with pytest.raises(ValueError, match=r"no pretrained model 'gc'; shipped: \['deepcore"):
        nn.pretrained("gc")


KNOWN = {"event": "Event", "events": "Event", "model": "", "config": ""}


@pytest.mark.parametrize("package", ["helixkit.nn", "helixkit.learned", "helixkit.trackformer",
                                     "helixkit.tokens", "helixkit.deepcore",
                                     "helixkit.distributed",
                                     "helixkit.data", "helixkit.seeding", "helixkit.fitting",
                                     "helixkit.graph", "helixkit.evaluation"])
def test_public_signatures_name_their_types(package):
    """Arguments that are events, models or configs are annotated with their types."""
    pkg = importlib.import_module(package)
    bad = []
    for name in pkg.__all__:
        obj = getattr(pkg, name)
        funcs = [obj] if inspect.isfunction(obj) else [
            m for m in vars(obj).values() if inspect.isfunction(m)
            and not m.__name__.startswith("_")] if inspect.isclass(obj) else []
        for fn in funcs:
            for p in inspect.signature(fn).parameters.values():
                ann = p.annotation if isinstance(p.annotation, str) else str(p.annotation)
                typed = p.name in KNOWN or p.name.endswith(("_model", "_config", "_event"))
                if typed and (ann in ("Any", "list[Any]", "inspect._empty")
                              or ann.startswith(("Any |", "Any,"))):
                    bad.append(f"{fn.__module__}.{fn.__qualname__}({p.name}: {ann})")
    assert not bad, bad

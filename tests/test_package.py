"""The w2v package as a whole: its import graph (read with `ast`, nothing imported) has no cycle, and
no module, in w2v/ or jobs/, imports another module's private (`_name`) names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # holds w2v/ and jobs/


def module_name(path: Path, root: Path = ROOT) -> str:
    """The module a file of w2v/ is, dotted below w2v: `cli`, `storage` (its `__init__`), `storage.s3`;
    w2v/__init__.py is `__init__`."""
    parts = path.relative_to(root / "w2v").with_suffix("").parts
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ".".join(parts) or "__init__"


def package_modules(root: Path = ROOT) -> dict[str, Path]:
    """module name -> file, for every module of w2v/ and its sub-packages."""
    return {module_name(path, root): path for path in sorted((root / "w2v").rglob("*.py"))}


def imports(path: Path, in_package: bool, names: set[str], root: Path = ROOT) -> list[tuple[str, str | None, int]]:
    """(w2v module imported, name taken from it or None for the module itself, line) for every import of
    `path`, at module level or inside a function; `names` are the package's modules (`module_name`).
    `from . import __version__` takes a name of `__init__`."""
    if in_package:
        own = module_name(path, root)
        package = [] if own == "__init__" else own.split(".")
        package = package if path.name == "__init__.py" else package[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name[4:], None, node.lineno) for a in node.names
                      if a.name.startswith("w2v.") and a.name[4:] in names]
        elif isinstance(node, ast.ImportFrom):
            if node.level and in_package:
                base = package[:len(package) - (node.level - 1)]
                target = base + (node.module.split(".") if node.module else [])
            elif node.level == 0 and node.module and node.module.split(".")[0] == "w2v":
                target = node.module.split(".")[1:]
            else:
                continue
            module = ".".join(target) or "__init__"
            for a in node.names:
                inner = ".".join(target + [a.name])
                found.append((inner, None, node.lineno) if inner in names else (module, a.name, node.lineno))
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the w2v modules it imports."""
    modules = package_modules(root)
    return {name: {module for module, _, _ in imports(path, True, set(modules), root)} - {name}
            for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the graph as a path that ends where it starts, or None.

    >>> find_cycle({"a": {"b"}, "b": {"a"}}), find_cycle({"a": {"b"}, "b": set()})
    (['a', 'b', 'a'], None)
    """
    state: dict[str, int] = {}  # module -> 1 while on the current path, 2 when done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt, path + [nxt])
                if cycle:
                    return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start, [start])
            if cycle:
                return cycle
    return None


def private_imports(root: Path = ROOT) -> list[str]:
    """`file:line imports module._name` for every private name taken from another w2v module, by
    `from .module import _name` or by `module._name` on an imported module."""
    modules = package_modules(root)
    found = []
    for path in list(modules.values()) + sorted((root / "jobs").glob("*.py")):
        own = module_name(path, root) if path.is_relative_to(root / "w2v") else None
        taken = imports(path, own is not None, set(modules), root)
        bound = {module.rsplit(".", 1)[-1] for module, name, _ in taken if name is None}  # names bound to modules
        for module, name, line in taken:
            if name and name.startswith("_") and not name.startswith("__") and module != own:
                found.append(f"{path.relative_to(root)}:{line} imports {module}.{name}")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in bound
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                found.append(f"{path.relative_to(root)}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert {"cli", "pipeline", "evaluation.metrics", "evaluation.tf_common"} <= set(graph)  # the graph was read
    assert "evaluation.tf_common" in graph["evaluation.analogies"]
    assert "evaluation.metrics" not in graph["evaluation.analogies"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_imports_another_modules_private_names():
    assert private_imports() == []


def test_the_checks_see_what_they_look_for(tmp_path):
    """A cycle and private imports planted in a package of two modules are found: the checks can fail."""
    package = tmp_path / "w2v"
    package.mkdir()
    (tmp_path / "jobs").mkdir()
    (package / "a.py").write_text("def f():\n    from .b import _helper\n")
    (package / "b.py").write_text("from . import a\n\ndef g():\n    return a._secret\n")
    (tmp_path / "jobs" / "speed.py").write_text("from w2v.b import _helper\n")
    assert find_cycle(import_graph(tmp_path)) == ["a", "b", "a"]
    assert private_imports(tmp_path) == ["w2v/a.py:2 imports b._helper", "w2v/b.py:4 uses a._secret",
                                 "jobs/speed.py:1 imports b._helper"]


# Not storage locations, so not storage's to read: a Ray address (`cluster`, `submit`), the S3 endpoint, a
# server (`config`), and which advice a refused URI's credentials get (`display`, called by storage itself).
SCHEME_READERS_ELSEWHERE = {"cluster", "config", "display", "submit"}
TENSORFLOW = ("tensorflow", "keras", "tf_keras")


def _strings(node: ast.AST) -> list[str]:
    """The string constants of an expression, inside tuples too."""
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def scheme_tests(root: Path = ROOT) -> list[str]:
    """`file:line` of every place outside w2v/storage/ (and SCHEME_READERS_ELSEWHERE) that asks a URI's scheme:
    `storage.scheme(...)` or any `.scheme`, `urlparse`/`urlsplit`, or a `...://` string compared, searched
    for (`in`) or given to `startswith`/`endswith`."""
    found = []
    for name, path in package_modules(root).items():
        if name == "storage" or name.startswith("storage.") or name in SCHEME_READERS_ELSEWHERE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            asks = ((isinstance(node, ast.Attribute) and node.attr == "scheme")
                    or (isinstance(node, ast.Name) and node.id in ("scheme", "urlparse", "urlsplit"))
                    or (isinstance(node, ast.Attribute) and node.attr in ("urlparse", "urlsplit"))
                    or (isinstance(node, ast.Compare) and any("://" in s for s in _strings(node)))
                    or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in ("startswith", "endswith")
                        and any("://" in s for a in node.args for s in _strings(a))))
            if asks:
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return sorted(set(found))


def tensorflow_imports(root: Path = ROOT) -> list[str]:
    """`file:line` of every import of TensorFlow or Keras outside w2v/evaluation/: `import`, `from ... import`,
    and `require(...)` / `importlib.import_module(...)` of them by name."""
    found = []
    for name, path in package_modules(root).items():
        if name == "evaluation" or name.startswith("evaluation."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""] if not node.level else []
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                    "require", "import_module") and node.args and isinstance(node.args[0], ast.Constant):
                modules = [str(node.args[0].value)]
            else:
                continue
            if any(m.split(".")[0] in TENSORFLOW for m in modules):
                found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_only_storage_reads_a_uris_scheme():
    """The rest of w2v asks storage (`storage.local_path(uri)`, `storage.open`), never "is this S3?"."""
    assert scheme_tests() == []


def test_only_the_evaluation_package_imports_tensorflow():
    """TensorFlow lives in w2v/evaluation/, so the driver and the trainer actors never import it."""
    assert tensorflow_imports() == []


def test_the_folder_rules_see_what_they_look_for(tmp_path):
    """A scheme test and a TensorFlow import planted outside their packages are found; inside, they are not."""
    (tmp_path / "w2v" / "storage").mkdir(parents=True)
    (tmp_path / "w2v" / "evaluation").mkdir()
    (tmp_path / "w2v" / "corpus.py").write_text(
        "from . import storage\nfrom urllib.parse import urlparse\n\ndef f(uri):\n"
        "    if storage.scheme(uri) == 'file' or uri.startswith(('s3://', 'x')) or '://' in uri:\n"
        "        return urlparse(uri).netloc\n")
    (tmp_path / "w2v" / "driver.py").write_text("def f():\n    import tensorflow as tf\n    return require('keras', 'x')\n")
    (tmp_path / "w2v" / "storage" / "s3.py").write_text("def f(uri):\n    return uri.startswith('s3://')\n")
    (tmp_path / "w2v" / "evaluation" / "metrics.py").write_text("def f():\n    import tensorflow\n")
    assert scheme_tests(tmp_path) == ["w2v/corpus.py:5", "w2v/corpus.py:6"]
    assert tensorflow_imports(tmp_path) == ["w2v/driver.py:2", "w2v/driver.py:3"]

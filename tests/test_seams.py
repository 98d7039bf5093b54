"""Model's internals stay in model.py: every other module of the package uses
the model's public verbs or the engine object it is handed (tlearn.engine).

The check reads the sources with ``ast``.  A *private attribute of Model* is
a name with one leading underscore that ``class Model`` in model.py defines:
a method, or an attribute assigned on ``self`` in one of its methods.  In any
other module of the package, using such a name is a finding: an attribute
``<expr>._name``, or the string ``"_name"`` (``getattr(m, "_name")``,
``"_name" in m.__dict__``).  The one exception is ``self._name`` (or
``super()._name``) inside a class of that module which defines ``_name``
itself and does not derive from Model (a recipe's own ``_build``); a
subclass of Model (directly or not) gets no exception, as its ``self`` is a
Model.  No type inference: a name Model uses is reserved everywhere else,
which errs on the strict side.  On 35356ca, before the engine, it found 127
such uses (fitloop 40, state 40, sequential 20, links 17, feed 10).
"""
from __future__ import annotations

import ast
import pathlib
from typing import List, Set, Tuple

import tlearn

PACKAGE = pathlib.Path(tlearn.__file__).parent
ALLOWED = {"model.py"}  # the module that owns Model's internals


def model_privates(source: str) -> Set[str]:
    """The private names ``class Model`` defines in ``source`` (model.py)."""
    tree = ast.parse(source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Model")
    return {n for n in _own_names(cls) if n.startswith("_") and not n.startswith("__")}


def _own_names(cls: ast.ClassDef) -> Set[str]:
    """Names a class defines itself: its methods and what its methods assign on ``self``."""
    own = set()
    for node in ast.walk(cls):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            own.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) \
                and isinstance(node.value, ast.Name) and node.value.id == "self":
            own.add(node.attr)
    return own


def _base_names(cls: ast.ClassDef) -> Set[str]:
    return {b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in cls.bases}


def model_classes(sources) -> Set[str]:
    """Names of Model and of the classes in ``sources`` that derive from it, directly or not."""
    classes = [n for src in sources for n in ast.walk(ast.parse(src)) if isinstance(n, ast.ClassDef)]
    found, grew = {"Model"}, True
    while grew:
        grew = False
        for c in classes:
            if c.name not in found and _base_names(c) & found:
                found.add(c.name)
                grew = True
    return found


def findings(source: str, privates: Set[str], filename: str = "<source>",
             models: Set[str] = frozenset({"Model"})) -> List[Tuple[int, str]]:
    """``(line, what)`` for every use of a name in ``privates`` in ``source`` (see the module docstring);
    ``models``: the names of Model and its subclasses."""
    tree = ast.parse(source, filename)
    out: List[Tuple[int, str]] = []

    def visit(node, own: Set[str]):
        if isinstance(node, ast.ClassDef):
            own = set() if _base_names(node) & models else _own_names(node)
        if isinstance(node, ast.Attribute) and node.attr in privates:
            v = node.value
            is_self = (isinstance(v, ast.Name) and v.id == "self") or \
                (isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "super")
            if not (is_self and node.attr in own):
                out.append((node.lineno, f"{ast.unparse(node.value)}.{node.attr}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in privates:
            out.append((node.lineno, repr(node.value)))
        for child in ast.iter_child_nodes(node):
            visit(child, own)

    visit(tree, set())
    return out


def package_findings(root: pathlib.Path) -> List[str]:
    privates = model_privates((root / "model.py").read_text())
    sources = {path.relative_to(root).as_posix(): path.read_text() for path in sorted(root.rglob("*.py"))}
    models = model_classes(sources.values())
    out = []
    for rel, src in sources.items():
        if rel not in ALLOWED:
            out += [f"{rel}:{line}: {what}" for line, what in findings(src, privates, rel, models)]
    return out


def test_no_module_but_model_reads_model_privates():
    found = package_findings(PACKAGE)
    assert not found, f"{len(found)} reads of Model's private attributes outside model.py:\n" + "\n".join(found)


def test_model_has_private_names_to_guard():
    # the guard is only as good as the set it guards: Model keeps its engine (and its helpers) private
    privates = model_privates((PACKAGE / "model.py").read_text())
    assert "_engine" in privates and "_build" in privates, sorted(privates)


def test_the_check_finds_what_it_should():
    privates = {"_engine", "_build"}
    src = '''
class Recipe(Base):
    def _build(self): return super()._build()  # the recipe's own method: fine
    def fit(self, model):
        self._build()                        # the recipe's own method: fine
        e = model._engine                    # found
        return getattr(model, "_engine")     # found (a string naming it)

class Deeper(Model):
    def go(self):
        return self._engine.net              # found: a Model subclass's self is a Model

class Deepest(Deeper):
    def _engine(self): ...
    def go(self):
        return self._engine                  # found: so is a subclass's subclass's, whatever it defines

class Other:
    def go(self):
        return self._engine                  # found: Other does not define _engine

def f(m):
    return m.engine, m._engine_like, m.__class__   # none of these
'''
    assert model_classes([src]) == {"Model", "Deeper", "Deepest"}
    got = findings(src, privates, models=model_classes([src]))
    assert [line for line, _ in got] == [6, 7, 11, 16, 20], got
    assert [what for _, what in got] == ["model._engine", "'_engine'", "self._engine", "self._engine", "self._engine"]

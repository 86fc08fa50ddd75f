"""The napari layer is a view: it calls the session's methods and never sets its attributes."""

from __future__ import annotations

import ast
from pathlib import Path

import napari_superanimal._napari as layer


def _session_assignments(path: Path) -> list[str]:
    """``<...>session.<attr> = ...`` (or ``+=``) statements in a module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            if not isinstance(target, ast.Attribute):
                continue
            owner = target.value
            name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            if name in ("session", "_session"):
                found.append(f"{path.name}:{node.lineno} {ast.unparse(target)}")
    return found


def test_nothing_in_the_napari_layer_assigns_to_a_session_attribute():
    modules = sorted(Path(layer.__file__).parent.glob("*.py"))
    assert len(modules) >= 8
    offenders = [line for m in modules for line in _session_assignments(m)]
    assert offenders == []


def test_the_check_would_catch_an_assignment(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(self):\n    self.session.model = None\n    session.threshold += 1\n")
    assert len(_session_assignments(bad)) == 2

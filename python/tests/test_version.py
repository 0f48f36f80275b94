"""One version: written once, as a literal, in swiftstn/__init__.py (``__version__``), which
pyproject.toml reads for the distribution's metadata; the Swift library carries its own copy
(Sources/SwiftSTNC/Entry.swift, returned by ``swiftstn._native.version()``) that must be changed
with it. These tests fail when the three disagree."""
import ast
import importlib.metadata
import os

import pytest

import swiftstn
from swiftstn import _native


def test_version_is_a_literal_assignment():
    # setuptools reads `attr = "swiftstn.__version__"` without importing the package (which needs
    # the built extension) only when the value is a literal assigned at module level.
    with open(swiftstn.__file__, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    values = [ast.literal_eval(node.value) for node in tree.body
              if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets)]
    assert values == [swiftstn.__version__]
    assert isinstance(swiftstn.__version__, str) and swiftstn.__version__


def test_python_and_native_library_versions_agree():
    assert _native.version() == swiftstn.__version__, (
        "the Swift library's version (Sources/SwiftSTNC/Entry.swift) differs from swiftstn.__version__ "
        "(python/swiftstn/__init__.py): change both")


def test_installed_distribution_metadata_agrees():
    try:
        dist = importlib.metadata.distribution("swiftstn")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("swiftstn is not installed (imported from the source tree)")
    installed_init = os.path.realpath(str(dist.locate_file(os.path.join("swiftstn", "__init__.py"))))
    if installed_init != os.path.realpath(swiftstn.__file__):
        pytest.skip(f"the imported swiftstn ({swiftstn.__file__}) is not the installed distribution")
    assert dist.version == swiftstn.__version__

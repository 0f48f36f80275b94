"""The installed package is self-contained: the Swift library and runtime ride along, found
through $ORIGIN, so it imports with no toolchain on PATH and no LD_LIBRARY_PATH."""
import os
import shutil
import subprocess
import sys

import pytest

import swiftstn

PKG = os.path.dirname(swiftstn.__file__)


def test_the_library_ships_inside_the_package():
    assert os.path.isfile(os.path.join(PKG, "libswiftstn.so"))
    assert os.path.isfile(os.path.join(PKG, "data", "mnist_subset", "LICENSE.md"))


@pytest.mark.skipif(shutil.which("readelf") is None, reason="readelf not installed")
def test_linkage():
    ext = swiftstn._native.__file__
    dyn = subprocess.run(["readelf", "-d", ext], capture_output=True, text=True).stdout
    assert "$ORIGIN" in dyn and "libswiftstn.so" in dyn
    lib = subprocess.run(["readelf", "-d", os.path.join(PKG, "libswiftstn.so")], capture_output=True, text=True).stdout
    assert "libswiftCore" not in lib and "libdispatch" not in lib   # Swift runtime linked statically


def test_imports_without_toolchain_or_library_path(tmp_path):
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    code = ("import swiftstn, numpy as np; "
            "print(swiftstn.affine_grid(np.eye(2, 3, dtype=np.float32)[None], (1, 1, 4, 4)).shape)")
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "(1, 4, 4, 2)"


def test_import_swiftstn_never_imports_torch(tmp_path):
    """swiftstn works without PyTorch: only ``import swiftstn.torch`` loads it."""
    code = ("import sys, swiftstn, swiftstn.nn, swiftstn.models, swiftstn.checkpoint, swiftstn.cli; "
            "print('torch' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=os.path.dirname(PKG)))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "False"

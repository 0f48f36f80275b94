"""Builds swiftstn: the Swift library with SwiftPM, then the CPython extension linked to it.

`pip install .` runs `swift build -c release` for the `swiftstn` dynamic library product with
the Swift runtime linked statically (`-static-stdlib`), copies `libswiftstn.so` into the package
and links `swiftstn._native` against it with an `$ORIGIN` rpath. The installed package therefore
imports from any directory with no toolchain on PATH and no LD_LIBRARY_PATH.

Environment:
  SWIFTSTN_TARGET_CPU  CPU the Swift kernels are compiled for. Default `native` (this machine:
                       AVX2/AVX-512 where present). For a wheel that runs on other x86-64
                       machines use `x86-64-v3` (AVX2, FMA) or `x86-64` (SSE2 baseline).
  SWIFT                the `swift` executable (default: found on PATH).
"""
import os
import shutil
import subprocess
import sys

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))
SCRATCH = os.path.join(ROOT, ".build-python")
LIBRARY = "libswiftstn.so"


def swift_executable():
    swift = os.environ.get("SWIFT") or shutil.which("swift")
    if not swift:
        sys.exit(
            "error: building swiftstn needs the Swift toolchain (6.0 or later), but `swift` is not on "
            "PATH. Install it from swift.org, or set SWIFT=/path/to/swift, then run `pip install .` again."
        )
    return swift


def build_swift_library():
    """Runs SwiftPM and returns the path of the built shared library."""
    env = dict(os.environ)
    env.setdefault("SWIFTSTN_TARGET_CPU", "native")
    cmd = [
        swift_executable(), "build", "-c", "release", "--product", "swiftstn",
        "--package-path", ROOT, "--scratch-path", SCRATCH,
        "-Xswiftc", "-static-stdlib",
    ]
    print("swiftstn: SWIFTSTN_TARGET_CPU=%s: %s" % (env["SWIFTSTN_TARGET_CPU"], " ".join(cmd)), flush=True)
    subprocess.run(cmd, check=True, env=env)
    bin_path = subprocess.run(cmd + ["--show-bin-path"], check=True, env=env, capture_output=True,
                              text=True).stdout.strip().splitlines()[-1]
    lib = os.path.join(bin_path, LIBRARY)
    if not os.path.exists(lib):
        sys.exit("error: swift build finished but %s is missing" % lib)
    return lib


class BuildSwiftExtension(build_ext):
    def run(self):
        lib = build_swift_library()
        libdir = os.path.dirname(lib)
        for ext in self.extensions:
            ext.library_dirs.append(libdir)
        super().run()
        # Ship the Swift library beside the extension; the extension finds it through $ORIGIN.
        targets = [os.path.join(self.build_lib, "swiftstn")]
        if self.inplace:
            targets.append(os.path.join(ROOT, "python", "swiftstn"))
        for t in targets:
            os.makedirs(t, exist_ok=True)
            shutil.copy2(lib, os.path.join(t, LIBRARY))


native = Extension(
    "swiftstn._native",
    sources=["python/swiftstn/_native.c", "python/swiftstn/_native_network.c",
             "python/swiftstn/_native_generators.c"],
    depends=["python/swiftstn/_native_common.h", "include/swiftstn.h"],
    include_dirs=[os.path.join(ROOT, "include"), numpy.get_include()],
    libraries=["swiftstn"],
    extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wno-unused-parameter"],
    extra_link_args=["-Wl,-rpath,$ORIGIN"],
)

setup(ext_modules=[native], cmdclass={"build_ext": BuildSwiftExtension})

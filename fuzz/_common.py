"""Shared helpers of the atheris harnesses (see fuzz/README.md).

Each harness is a script: `python fuzz/<harness>.py [libFuzzer flags] [corpus dirs]`. A harness
checks a contract in TestOneInput and raises (so atheris reports a crash and writes the input to
crash-<sha1>) when the library breaks it; a real crash of the process (signal) is reported by
libFuzzer directly.

The bugs the first runs found are fixed (their reproducers are tests in python/tests), so inputs
that reach them are failures by default; SWIFTSTN_FUZZ_STRICT=0 tolerates them again (to explore
past a regression while it is being fixed).
"""
import os
import sys

STRICT = os.environ.get("SWIFTSTN_FUZZ_STRICT", "1") != "0"
DOCUMENTED = (TypeError, ValueError, OverflowError, MemoryError)


class ContractViolation(AssertionError):
    """The library broke its documented contract for this input."""


def check(condition, message):
    if not condition:
        raise ContractViolation(message)


def call(fn, *args):
    """fn(*args), or None when it raises a documented exception (which must carry a message)."""
    try:
        return fn(*args)
    except DOCUMENTED as e:
        check(str(e), f"{type(e).__name__} without a message")
        return None


def main(test_one_input, instrument=("swiftstn",), seeds=()):
    """Sets up atheris (instrumenting the named modules' Python code) and fuzzes. `seeds` are
    byte strings written to a fresh corpus directory when the command line names none."""
    import atheris

    args = list(sys.argv)
    # seeds go into the first corpus directory named on the command line when it is empty (or a
    # fresh temporary one when none is named); a file argument means "replay these inputs"
    dirs = [a for a in args[1:] if not a.startswith("-")]
    if seeds and not any(os.path.isfile(a) for a in dirs):
        if not dirs:
            import tempfile
            dirs = [tempfile.mkdtemp(prefix="swiftstn-fuzz-corpus-")]
            args.append(dirs[0])
        os.makedirs(dirs[0], exist_ok=True)
        if not os.listdir(dirs[0]):
            for i, s in enumerate(seeds):
                with open(os.path.join(dirs[0], f"seed{i}"), "wb") as f:
                    f.write(s)
    # coverage feedback from the harness's own Python code (it decodes the input into calls) on
    # top of swiftstn's modules (instrumented at import); instrument_all() would add numpy's Python
    # layers too but costs ~20 s of start-up
    import types
    harness = sys.modules[test_one_input.__module__]
    for name, obj in list(vars(harness).items()):
        if isinstance(obj, types.FunctionType) and obj.__module__ == harness.__name__:
            setattr(harness, name, atheris.instrument_func(obj))
    atheris.Setup(args, getattr(harness, test_one_input.__name__))
    atheris.Fuzz()


def instrumented_import():
    """Context manager that instruments swiftstn's Python code for coverage feedback."""
    import atheris
    return atheris.instrument_imports(include=["swiftstn"])

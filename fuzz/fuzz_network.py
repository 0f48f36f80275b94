"""Fuzzes the training engine's C ABI through the extension: network specs (the text the C ABI
parses), per-sample shapes for output_shape, forward / loss_and_grad / evaluate on small batches
and trainer creation with arbitrary optimiser settings.

Contract: a network/trainer/result, or ValueError/TypeError/OverflowError/MemoryError — never a
crash. The engine's parameter limit is lowered to 10^7 here (see below). Unless
SWIFTSTN_FUZZ_STRICT=1, inputs that reach the known crashes (fuzz/RESULTS.md) are skipped: specs
whose numbers multiply to more than 10^7 (parameter allocation / count overflow) and per-sample
shapes whose element count reaches 2^62 (flatten/linear shape overflow).
"""
import math
import re

import numpy as np

from _common import STRICT, call, check, instrumented_import, main

with instrumented_import():
    from swiftstn import _native

# Networks over 10^7 parameters (40 MB) are refused with MemoryError, as the engine refuses any
# over its limit: the default limit (a quarter of physical memory) lets specs through whose
# parameter store is over libFuzzer's malloc limit (-rss_limit_mb), which it reports as a crash.
_native.network_set_max_parameters(10**7)

NUMBER = re.compile(rb"[0-9.eE+-]+")


def too_big(spec):
    product = 1.0
    for m in NUMBER.findall(spec):
        try:
            v = abs(float(m))
        except ValueError:
            continue
        if v != v or v == float("inf"):
            continue
        product *= max(1.0, v)
    return product > 1e7


def num(fdp):
    k = fdp.ConsumeIntInRange(0, 31)
    if k < 26:
        return str(fdp.ConsumeIntInRange(0, 9))
    return ["-1", "0.5", "1e3", "+2", "nan", "inf", "99"][k - 26] if k < 33 else "1"


def layer(fdp, depth=0):
    """A layer drawn from the spec grammar (small numbers, any arity mistakes included)."""
    k = fdp.ConsumeIntInRange(0, 11 if depth < 3 else 8)
    args = lambda n: "(" + ",".join(num(fdp) for _ in range(n)) + ")"  # noqa: E731
    if k == 0:
        return "conv" + args(9 if fdp.ConsumeIntInRange(0, 7) else fdp.ConsumeIntInRange(0, 10))
    if k == 1:
        return "maxpool" + args(4)
    if k == 2:
        return "linear" + args(3)
    if k in (3, 4, 5):
        return ["relu", "flatten", "logsoftmax"][k - 3]
    if k == 6:
        return ("dropout" if fdp.ConsumeBool() else "dropout2d") + "(" + num(fdp) + ")"
    if k in (7, 8):
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 6))
    if k in (9, 10):
        return "seq(" + ",".join(layer(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))) + ")"
    return f"stn({layer(fdp, depth + 1)},{layer(fdp, depth + 1)},{num(fdp)})"


def TestOneInput(data):
    import atheris
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeIntInRange(0, 3) == 0:
        spec = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 120))  # raw text
    else:
        spec = layer(fdp).encode("utf-8", "surrogatepass")
    if b"\x00" in spec or (not STRICT and too_big(spec)):
        return
    net = call(_native.network_create, spec.decode("utf-8", "replace"), fdp.ConsumeInt(8) & (2**64 - 1))
    if net is None:
        return
    count = _native.network_get_parameters(net).size
    shapes = _native.network_parameter_shapes(net)
    check(sum(int(np.prod(s)) for s in shapes) == count, "parameter shapes do not add up")
    ndim = fdp.ConsumeIntInRange(0, 5)
    sample = [fdp.ConsumeIntInRange(0, 12) if fdp.ConsumeIntInRange(0, 15) else fdp.ConsumeInt(8) for _ in range(ndim)]
    if not STRICT and math.prod(abs(d) for d in sample) >= 2**62:
        return  # known bug: flatten/linear trap on per-sample element counts that overflow Int
    out_shape = call(_native.network_output_shape, net, sample)
    if out_shape is None or any(d <= 0 for d in sample) or math.prod(sample) > 4096:
        return
    n = fdp.ConsumeIntInRange(0, 5)
    count = n * math.prod(sample)
    x = np.array((fdp.ConsumeRegularFloatList(count) + [0.0] * count)[:count], np.float32).reshape([n] + sample)
    x = np.clip(np.nan_to_num(x), -1e3, 1e3)
    out = call(_native.network_forward, net, x, fdp.ConsumeBool(), fdp.ConsumeInt(8) & (2**64 - 1))
    if out is not None:
        check(out.shape == (n, *out_shape), f"forward shape {out.shape}, expected {(n, *out_shape)}")
    labels = np.array([fdp.ConsumeIntInRange(-1, 4) for _ in range(n)], np.int64)
    call(_native.network_loss_and_grad, net, x, labels, fdp.ConsumeBool(), 1, fdp.ConsumeBool())
    call(_native.network_evaluate, net, x, labels, fdp.ConsumeIntInRange(-1, 4))
    call(_native.network_transform, net, x)
    kind = fdp.ConsumeIntInRange(-1, 2)
    floats = [fdp.ConsumeFloat() for _ in range(7)]
    trainer = call(_native.trainer_create, net, kind, *floats[:4], fdp.ConsumeBool(), *floats[4:], 7)
    if trainer is not None and n:
        call(_native.trainer_epoch, trainer, x, labels, fdp.ConsumeIntInRange(-1, 4), fdp.ConsumeBool(),
             fdp.ConsumeBool(), 1, 1, None)


SEEDS = [
    b"\x28seq(conv(1,2,3,3,1,1,0,0,1),relu,flatten,linear(8,3,1),logsoftmax)",
    b"\x40stn(seq(conv(1,2,3,3,1,1,0,0,1),relu),seq(flatten,linear(18,6,1)),1)",
    b"\x20seq(maxpool(2,2,2,2),dropout2d(0.5),flatten,dropout(0.25))",
]

if __name__ == "__main__":
    main(TestOneInput, seeds=SEEDS)

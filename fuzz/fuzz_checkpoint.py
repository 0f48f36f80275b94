"""Fuzzes swiftstn.checkpoint.load on mutated checkpoint files (seeded with real checkpoints of a
tiny model trained with SGD+momentum and with Adam).

Contract: a Checkpoint (whose parameters restore into the model of its architecture), or
CheckpointError / FileNotFoundError — nothing else, never a crash.
Known bugs tolerated unless SWIFTSTN_FUZZ_STRICT=1: zipfile's NotImplementedError (unknown
compression method) and RuntimeError (encrypted flag) escape load(); metadata of the wrong JSON
type escapes as AttributeError/KeyError/TypeError; a damaged .npy header inside the archive makes
numpy raise tokenize.TokenError.
"""
import os
import tempfile
import tokenize

import numpy as np

from _common import STRICT, check, instrumented_import, main

with instrumented_import():
    from swiftstn import checkpoint, nn

TMP = tempfile.mkdtemp(prefix="swiftstn-fuzz-ckpt-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
PATH = os.path.join(TMP, "c.npz")


def model():
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.LogSoftmax()).build(0)


KNOWN = (NotImplementedError, RuntimeError, AttributeError, KeyError, TypeError,
         tokenize.TokenError)  # fuzz/regressions/checkpoint-tokenerror.npz
MODEL = model()


def TestOneInput(data):
    with open(PATH, "wb") as f:
        f.write(data)
    try:
        ck = checkpoint.load(PATH)
    except (checkpoint.CheckpointError, FileNotFoundError) as e:
        check(str(e), "error without a message")
        return
    except KNOWN:
        if STRICT:
            raise
        return
    check(isinstance(ck, checkpoint.Checkpoint), f"load returned {type(ck)}")
    if ck.meta.get("spec") == MODEL.spec:
        try:
            ck.restore(MODEL)
        except (checkpoint.CheckpointError, ValueError, KeyError, TypeError):
            pass


def seeds():
    out = []
    x, y = np.ones((4, 1, 2, 2), np.float32), np.array([0, 1, 2, 0])
    for opt in ("sgd", "adam"):
        m = model()
        m.fit(x, y, optimizer=opt, momentum=0.5 if opt == "sgd" else 0.0, progress=False, seed=1)
        p = os.path.join(TMP, "seed.npz")
        checkpoint.save(p, m, epoch=1)
        with open(p, "rb") as f:
            out.append(f.read())
    return out


if __name__ == "__main__":
    main(TestOneInput, seeds=seeds())

"""Distributed data-parallel training with swiftstn's sampler: examples/ddp_train.py started by
torchrun as 2 processes (gloo, loopback) trains the blog's Net; the loss falls and both ranks end
with identical weights."""
import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "ddp_train.py")


def test_two_process_ddp_training(tmp_path):
    out = tmp_path / "ddp.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", EXAMPLE,
           "--steps", "60", "--lr", "0.05", "--out", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    result = json.loads(out.read_text())
    losses = result["losses"]
    assert result["world_size"] == 2 and result["steps"] == 60 and len(losses) == 60
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < first - 0.1, f"the loss did not fall: {first:.4f} -> {last:.4f}"
    assert result["max_weight_difference"] == 0.0

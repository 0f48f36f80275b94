"""Checkpoints: everything needed to continue a training run exactly, in one file.

Format (version 1): a ZIP archive written with ``numpy.savez`` holding
  - ``meta``: UTF-8 JSON (as a uint8 array) with ``format`` ("swiftstn-checkpoint"), ``version``
    (1), ``spec`` (the network's engine spec), ``parameter_names`` and ``parameter_shapes`` (in
    state-dict order), ``epoch`` (epochs completed), ``step`` (optimisation steps, which key the
    dropout masks), ``seed`` (the run's seed: shuffling and dropout derive from it),
    ``optimizer`` (name and settings), ``optimizer_steps``, ``dataset``, ``history`` and
    ``sha256`` (of every array below, in order — damage is detected on load);
  - ``param/<name>``: each parameter, float32, in state-dict order;
  - ``optimizer/state1``, ``optimizer/state2``: the optimiser's buffers (momentum / Adam moments;
    empty when unused).

Saving is atomic: the file is written to a temporary name in the same folder, synced, then
renamed over the old checkpoint, so a crash or kill during saving leaves the previous checkpoint
intact.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import numpy as np
from numpy.typing import NDArray

from ._idx import StrPath

if TYPE_CHECKING:
    from ._model import ModelMixin

__all__ = ["FORMAT", "VERSION", "CheckpointError", "Checkpoint", "save", "load", "export_state_dict",
           "read_safetensors"]

_M = TypeVar("_M", bound="ModelMixin")

FORMAT = "swiftstn-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint is damaged, of another format, or for another architecture."""


def _digest(arrays: Mapping[str, Any]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save(path: StrPath, model: ModelMixin, epoch: int = 0, dataset: dict[str, Any] | None = None,
         history: dict[str, list[Any]] | None = None) -> StrPath:
    """Writes model weights, optimiser state, epoch, step and seed to ``path`` atomically (see the
    module docstring for the format); returns ``path``. ``epoch`` is the number of epochs
    completed; ``dataset`` and ``history`` (JSON-serialisable) are stored for the record (the CLI
    stores the data folder and the per-epoch metrics)."""
    state = model.training_state()
    arrays: dict[str, Any] = {f"param/{k}": v for k, v in model.state_dict().items()}
    arrays["optimizer/state1"] = state["state1"]
    arrays["optimizer/state2"] = state["state2"]
    sd_names = list(model.state_dict())
    meta = {
        "format": FORMAT, "version": VERSION, "spec": model.spec,
        "parameter_names": sd_names,
        "parameter_shapes": [list(arrays[f"param/{k}"].shape) for k in sd_names],
        "epoch": int(epoch), "step": int(state["step"]), "seed": state["seed"],
        "optimizer": state["optimizer"], "optimizer_steps": int(state["optimizer_steps"]),
        "dataset": dataset, "history": history or {}, "sha256": _digest(arrays),
    }
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".swiftstn-ckpt-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        try:  # make the rename itself durable
            dfd = os.open(folder, os.O_RDONLY)
            os.fsync(dfd)
            os.close(dfd)
        except OSError:
            pass
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


class Checkpoint:
    """A loaded, verified checkpoint (made by :func:`load`): ``meta`` (the metadata dictionary
    described in the module docstring), ``params`` (name → float32 array, state-dict order) and
    the optimiser buffers ``state1``/``state2``."""

    def __init__(self, meta: dict[str, Any], params: dict[str, NDArray[np.float32]], state1: NDArray[np.float32],
                 state2: NDArray[np.float32]) -> None:
        self.meta, self.params, self.state1, self.state2 = meta, params, state1, state2

    @property
    def epoch(self) -> int:
        """The number of epochs completed when the checkpoint was saved."""
        return self.meta["epoch"]

    def restore(self, model: _M, with_optimizer: bool = True) -> _M:
        """Loads the weights (and the optimiser state and step counter) into ``model``, which
        must have the checkpoint's architecture."""
        if model.spec != self.meta["spec"]:
            raise CheckpointError("checkpoint is for another architecture:\n  checkpoint: "
                                  f"{self.meta['spec']}\n  model:      {model.spec}")
        before = model.state_dict()
        model.load_state_dict(self.params)
        if with_optimizer:
            try:
                self._restore_optimizer(model)
            except CheckpointError:
                model.load_state_dict(before)   # leave the model as it was
                raise
        return model

    def _restore_optimizer(self, model: ModelMixin) -> None:
        try:
            model.restore_training_state({
                "optimizer": self.meta["optimizer"], "seed": self.meta["seed"], "step": self.meta["step"],
                "optimizer_steps": self.meta["optimizer_steps"], "state1": self.state1, "state2": self.state2,
                "epoch": self.meta["epoch"]})
        except ValueError as e:
            raise CheckpointError(f"checkpoint optimiser state cannot be restored: {e}") from None


def load(path: StrPath) -> Checkpoint:
    """Reads and verifies a checkpoint; raises CheckpointError if it is damaged or not one."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except MemoryError:
        raise
    except Exception as e:  # zipfile, zlib, the .npy header parser: damage shows up as any of them
        raise CheckpointError(f"{path} is damaged or not a swiftstn checkpoint ({type(e).__name__}: {e})") from None
    if "meta" not in arrays:
        raise CheckpointError(f"{path} is not a swiftstn checkpoint (no metadata)")
    try:
        meta = json.loads(arrays.pop("meta").tobytes().decode())
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckpointError(f"{path}: damaged metadata ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a swiftstn checkpoint")
    if meta.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint format version {meta.get('version')}; "
                              f"this swiftstn reads {VERSION}")
    if _digest(arrays) != meta.get("sha256"):
        raise CheckpointError(f"{path} is damaged: its contents do not match the recorded checksum")
    _check_structure(path, meta, arrays)
    params = {n: arrays[f"param/{n}"] for n in meta["parameter_names"]}
    return Checkpoint(meta, params, arrays["optimizer/state1"], arrays["optimizer/state2"])


def _check_structure(path: StrPath, meta: dict[str, Any], arrays: dict[str, Any]) -> None:
    """Every field a restore reads exists with the right type, and the arrays match it."""
    def bad(what: str) -> NoReturn:
        raise CheckpointError(f"{path} is damaged or inconsistent: {what}")
    names, shapes = meta.get("parameter_names"), meta.get("parameter_shapes")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        bad("parameter_names is not a list of names")
    if not isinstance(shapes, list) or len(shapes) != len(names):
        bad("parameter_shapes does not match parameter_names")
    if not isinstance(meta.get("spec"), str):
        bad("no network spec")
    for key in ("epoch", "step", "optimizer_steps"):
        if not isinstance(meta.get(key), int) or meta[key] < 0:
            bad(f"{key} is not a non-negative integer")
    if meta.get("seed") is not None and not isinstance(meta["seed"], int):
        bad("seed is not an integer")
    opt = meta.get("optimizer")
    if opt is not None:
        fields: dict[str, type | tuple[type, ...]] = {
            "name": str, "lr": (int, float), "momentum": (int, float), "dampening": (int, float),
            "nesterov": bool, "weight_decay": (int, float), "betas": list, "eps": (int, float)}
        if not isinstance(opt, dict) or any(not isinstance(opt.get(k), t) for k, t in fields.items()) \
                or len(opt["betas"]) != 2:
            bad("optimizer settings are incomplete")
    if not isinstance(meta.get("history", {}), dict):
        bad("history is not a dictionary")
    for name, shape in zip(names, shapes):
        a = arrays.get(f"param/{name}")
        if a is None or not isinstance(shape, list) or list(a.shape) != shape or a.dtype != np.float32:
            bad(f"parameter {name} is missing or does not have shape {shape}")
    for key in ("optimizer/state1", "optimizer/state2"):
        a = arrays.get(key)
        if a is None or a.ndim != 1 or a.dtype != np.float32:
            bad(f"{key} is missing")


def export_state_dict(path: str, model_or_checkpoint: ModelMixin | Checkpoint) -> str:
    """Writes the weights as a PyTorch-loadable state dict: ``.pt`` via ``torch.save`` (needs
    torch), anything else as safetensors (``safetensors.torch.load_file`` gives the state dict;
    written here without dependencies)."""
    params = (model_or_checkpoint.params if isinstance(model_or_checkpoint, Checkpoint)
              else model_or_checkpoint.state_dict())
    if path.endswith(".pt") or path.endswith(".pth"):
        import torch  # only this format needs it
        torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in params.items()}, path)
        return path
    header: dict[str, Any] = {}
    offset, blobs = 0, []
    for name, value in params.items():
        a = np.ascontiguousarray(value, dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little") + h + b"".join(blobs))
    return path


def read_safetensors(path: StrPath) -> dict[str, NDArray[np.float32]]:
    """Reads a float32 safetensors file into a dict of arrays (for checking exports)."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        out[name] = np.frombuffer(data[8 + n + lo:8 + n + hi], dtype="<f4").reshape(info["shape"])
    return out

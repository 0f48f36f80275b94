"""What every ``swiftstn.nn`` model can do once compiled to the Swift engine: parameters with
PyTorch's names, training, evaluation, inference and the spatial transformer's view."""
from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _native

if TYPE_CHECKING:
    from ._native import Network, Trainer
    from .nn import Module, SpatialTransformer

__all__ = ["ModelMixin", "StateDict", "History", "ProgressCallback"]

#: Parameters by PyTorch-style name (``conv1.weight``, ``fc_loc.2.bias``, …), in declaration order.
StateDict = OrderedDict[str, NDArray[np.float32]]
#: ``fit()``'s history: per-epoch lists keyed ``epoch``, ``train_loss``, ``train_accuracy``, ….
History = dict[str, list[Any]]
#: ``fit(callback=…)``: called as ``callback(epoch, batch, batches, samples, mean_loss, correct)``;
#: returning ``False`` stops training after the current batch.
ProgressCallback = Callable[[int, int, int, int, float, int], object]

_M = TypeVar("_M", bound="ModelMixin")

_OPTIMIZERS = {"sgd": 0, "adam": 1}


def _fresh_seed() -> int:
    return int.from_bytes(os.urandom(8), "little")


#: How to turn 0–255 pixels into what the models take (MNIST's normalisation, as the datasets do).
_NORMALISE_HINT = ("scale and normalise it first, e.g. x = ((x / 255 - 0.1307) / 0.3081).astype(np.float32) "
                   "(MNIST's mean and std: swiftstn.datasets.MNIST_MEAN, MNIST_STD)")


def _images(x: ArrayLike, op: str, name: str = "x") -> NDArray[Any]:
    """``x`` as an array of dtype float32 or float64 (not copied when it is one). Every other dtype
    is a TypeError — integer images (uint8 pixels) with how to normalise them — so that every
    model method takes the same inputs (fit() used to cast uint8 to float32 0–255)."""
    a = np.asarray(x)
    if a.dtype == np.float32 or a.dtype == np.float64:
        return a
    if a.dtype.kind in "biu":
        raise TypeError(f"{op}(): {name} has dtype {a.dtype}; the model takes float32 or float64 images, normalised "
                        f"as in training: {_NORMALISE_HINT}")
    raise TypeError(f"{op}(): {name} must have dtype float32 or float64, got {a.dtype}")


def _positive_int(value: Any, what: str) -> int:
    """``value`` as a positive int (Python or NumPy integer, not bool), else a ValueError."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or value <= 0:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return int(value)


class ModelMixin:
    """Engine-backed methods shared by all modules (used on the root of a model): compilation to
    the Swift engine, parameters with PyTorch's names (``state_dict``), training (``fit``,
    ``train_step``), evaluation, inference (``forward``/``predict``) and the spatial transformer's
    view (``stn``, ``theta``). Every :class:`swiftstn.nn.Module` has them."""

    # What these methods use of swiftstn.nn.Module, and the state the compiled model keeps in its
    # __dict__ (annotations only: for readers and type checkers; nothing is created here).
    training: bool
    _spec_text: str
    _param_shapes: list[tuple[int, ...]]
    _transformers: list[SpatialTransformer]
    _decl_order: list[int]
    _trainer_key: Any  # (optimizer, lr, …): the current trainer's settings, None without one
    _trainer_seed: int
    _state_names: list[str]  # the compiled model's parameter names, in the engine's order

    if TYPE_CHECKING:
        def _spec(self, leaves: list[Module]) -> str: ...
        def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]: ...

    # ---- compilation -------------------------------------------------------------------------
    def _compiled(self) -> Network:
        net = self.__dict__.get("_net")
        if net is None:
            leaves: list[Module] = []
            spec = self._spec(leaves)
            names = {id(m): n for n, m in self.named_modules()}
            param_names: list[str] = []
            transformers: list[Any] = []
            for leaf in leaves:
                if not leaf._param_names():
                    transformers.append(leaf)
                    continue
                prefix = names.get(id(leaf))
                if prefix is None:
                    raise ValueError(f"{type(leaf).__name__} layer with parameters must be an attribute of the model")
                param_names += [f"{prefix}.{p}" if prefix else p for p in leaf._param_names()]
            seed = self.__dict__.get("_init_seed")
            net = _native.network_create(spec, _fresh_seed() if seed is None else int(seed))
            shapes = _native.network_parameter_shapes(net)
            assert len(shapes) == len(param_names), (shapes, param_names)
            # state_dict() lists parameters in declaration order, as torch does (the engine's
            # order is execution order).
            module_rank = {n: i for i, (n, _) in enumerate(self.named_modules())}
            order = sorted(range(len(param_names)),
                           key=lambda i: (module_rank[param_names[i].rpartition(".")[0]], i))
            self.__dict__.update(_net=net, _spec_text=spec, _state_names=param_names, _param_shapes=shapes,
                                 _transformers=transformers,
                                 _decl_order=order,
                                 _trainer=None, _trainer_key=None, _step_seed=0)
        return net

    def build(self: _M, seed: int | None = None) -> _M:
        """Compiles the model now, initialising its parameters from ``seed`` (PyTorch's init).
        Models compile themselves on first use; call this to choose the seed."""
        self.__dict__.update(_init_seed=seed, _net=None)
        self._compiled()
        return self

    # ---- pickling ----------------------------------------------------------------------------
    # The engine's handles (PyCapsules) cannot be pickled: a compiled model pickles as its module
    # tree and attributes (the train/eval flag, the dropout step seed, the run's settings) plus
    # its parameters and training_state(), and is rebuilt on load with the same spec — so that it
    # predicts bit for bit the same and fit() continues the run exactly. copy.deepcopy goes through
    # here too (an independent engine). As with any pickle, load only pickles you trust.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        net = state.pop("_net", None)
        state.pop("_trainer", None)
        if net is not None:
            state["_engine_state"] = {"parameters": _native.network_get_parameters(net),
                                      "training": self.training_state()}
        return state

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        state = dict(state)
        engine = state.pop("_engine_state", None)
        self.__dict__.update(state)
        if engine is None:
            return
        net = _native.network_create(self._spec_text, 0)  # the parameters are overwritten next
        _native.network_set_parameters(net, engine["parameters"])
        self.__dict__.update(_net=net, _trainer=None, _trainer_key=None)
        self.restore_training_state(engine["training"])

    @property
    def spec(self) -> str:
        """The engine's description of this model."""
        self._compiled()
        return self._spec_text

    # ---- parameters --------------------------------------------------------------------------
    def state_dict(self) -> StateDict:
        """Parameters as an ordered dict of NumPy float32 arrays keyed like PyTorch's."""
        return self._unflatten(_native.network_get_parameters(self._compiled()))

    def _unflatten(self, flat: NDArray[np.float32]) -> StateDict:
        """Splits a flat engine-order vector into named arrays, in declaration order."""
        pieces, offset = [], 0
        for shape in self._param_shapes:
            size = int(np.prod(shape))
            pieces.append(flat[offset:offset + size].reshape(shape).copy())
            offset += size
        return OrderedDict((self._state_names[i], pieces[i]) for i in self._decl_order)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> None:
        """Loads parameters (NumPy arrays, or anything with ``.numpy()`` / ``__array__`` such as
        torch tensors). Refuses missing or unexpected keys (when strict) and wrong shapes, and
        then changes nothing."""
        net = self._compiled()
        keys = set(state_dict.keys())
        missing = [k for k in self._state_names if k not in keys]
        unexpected = sorted(keys - set(self._state_names))
        if strict and (missing or unexpected):
            raise KeyError("load_state_dict: " + "; ".join(
                ([f"missing keys: {', '.join(missing)}"] if missing else [])
                + ([f"unexpected keys: {', '.join(unexpected)}"] if unexpected else [])))
        flat = _native.network_get_parameters(net)
        offset = 0
        for name, shape in zip(self._state_names, self._param_shapes):
            size = int(np.prod(shape))
            if name in state_dict:
                value = state_dict[name]
                value = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
                if tuple(value.shape) != tuple(shape):
                    raise ValueError(f"load_state_dict: {name} has shape {tuple(value.shape)}, the model expects "
                                     f"{tuple(shape)}")
                if not np.issubdtype(value.dtype, np.floating):
                    raise TypeError(f"load_state_dict: {name} must be floating point, got {value.dtype}")
                flat[offset:offset + size] = value.reshape(-1)
            offset += size
        _native.network_set_parameters(net, flat)

    def named_parameters(self) -> list[tuple[str, NDArray[np.float32]]]:
        """(name, array) pairs of the parameters: copies, in ``state_dict()`` order."""
        return list(self.state_dict().items())

    def parameters(self) -> list[NDArray[np.float32]]:
        """The parameters as arrays (copies), in ``state_dict()`` order."""
        return list(self.state_dict().values())

    # ---- modes -------------------------------------------------------------------------------
    def train(self: _M, mode: bool = True) -> _M:
        """Sets training mode (dropout active) on this module and all its children, as
        ``torch.nn.Module.train``; returns the module."""
        for _, m in self.named_modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self: _M) -> _M:
        """Sets evaluation mode (dropout off), as ``torch.nn.Module.eval``; returns the module."""
        return self.train(False)

    def _next_seed(self) -> int:
        """Dropout seed for calls made in training mode outside fit()."""
        s = self.__dict__.get("_step_seed", 0) + 1
        self.__dict__["_step_seed"] = s
        return s

    # ---- inference ---------------------------------------------------------------------------
    def forward(self, x: ArrayLike) -> NDArray[np.float32]:
        """The model's raw output (log-probabilities for models that end in LogSoftmax), in the
        current mode."""
        x = _images(x, "forward")
        return _native.network_forward(self._compiled(), x, self.training, self._next_seed() if self.training else 0)

    __call__ = forward

    def predict(self, x: ArrayLike, batch_size: int | None = None) -> NDArray[np.float32]:
        """Log-probabilities per class, in evaluation mode (N × classes), for a float32 or float64
        batch ``x`` (N×C×H×W; integer images such as uint8 pixels are a TypeError: normalise them
        first). With ``batch_size`` (a positive int), ``x`` is run ``batch_size`` images at a time
        (bounding the engine's working memory) and the results are concatenated: bit for bit the
        unbatched result."""
        x = _images(x, "predict")
        net = self._compiled()
        if batch_size is None or x.ndim < 2:
            out = _native.network_forward(net, x, False, 0)
        else:
            batch = _positive_int(batch_size, "predict(): batch_size")
            if len(x) <= batch:
                out = _native.network_forward(net, x, False, 0)
            else:
                out = np.concatenate([_native.network_forward(net, x[i:i + batch], False, 0)
                                      for i in range(0, len(x), batch)])
        if "logsoftmax" in self._spec_text.rsplit(",", 1)[-1]:
            return out
        shifted = out - out.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def stn(self, x: ArrayLike) -> NDArray[np.float32]:
        """The input batch ``x`` (N×C×H×W) after the model's (first) spatial transformer, same
        shape."""
        return _native.network_transform(self._compiled(), _images(x, "stn"))[0]

    def theta(self, x: ArrayLike) -> NDArray[np.float32]:
        """The affine transforms (N × 2 × 3) the model's (first) spatial transformer predicts for x
        (for affine, attention and similarity transformers)."""
        self._compiled()
        if self._transformers and self._transformers[0].transform not in self._transformers[0].AFFINE_FAMILY:
            raise ValueError(f"theta(): the model's transformer is {self._transformers[0].transform!r}, not affine; "
                             "use stn(x) to see what it does")
        return _native.network_transform(self._compiled(), _images(x, "theta"))[1]

    def loss_and_grad(self, x: ArrayLike, y: ArrayLike) -> tuple[float, StateDict]:
        """(mean loss, {parameter name: gradient}) for a batch, in the current mode; the
        parameters do not change."""
        x = _images(x, "loss_and_grad")
        loss, _, flat = _native.network_loss_and_grad(self._compiled(), x, y, self.training,
                                                      self._next_seed() if self.training else 0, True)
        return loss, self._unflatten(flat)

    def evaluate(self, x: ArrayLike, y: ArrayLike, batch_size: int = 1000) -> tuple[float, float]:
        """(mean loss, accuracy) on images ``x`` (float32 or float64, normalised as for training)
        and integer labels ``y``, in evaluation mode, ``batch_size`` (a positive int) images at a
        time."""
        x = _images(x, "evaluate")
        return _native.network_evaluate(self._compiled(), x, y, _positive_int(batch_size, "evaluate(): batch_size"))

    # ---- training ----------------------------------------------------------------------------
    def _trainer_for(self, optimizer: str, lr: float, momentum: float, dampening: float, nesterov: bool,
                     weight_decay: float, betas: tuple[float, float], eps: float, seed: int | None) -> Trainer:
        """The trainer for these settings: the current one when the settings match and `seed` is
        None or the current run's seed (so consecutive fit() calls continue one run), else a new
        one (fresh optimiser state)."""
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"fit(): optimizer must be one of {', '.join(map(repr, _OPTIMIZERS))}, got {optimizer!r}")
        key = (optimizer, float(lr), float(momentum), float(dampening), bool(nesterov), float(weight_decay),
               tuple(map(float, betas)), float(eps))
        current = self.__dict__.get("_trainer")
        if current is not None and self._trainer_key == key and (seed is None or int(seed) == self._trainer_seed):
            return current
        seed = _fresh_seed() if seed is None else int(seed)
        trainer = _native.trainer_create(self._compiled(), _OPTIMIZERS[optimizer], float(lr), float(momentum),
                                         float(dampening), float(weight_decay), bool(nesterov), float(betas[0]),
                                         float(betas[1]), float(eps), seed)
        self.__dict__.update(_trainer=trainer, _trainer_key=key, _trainer_seed=seed, _epochs_done=0)
        return trainer

    def training_state(self) -> dict[str, Any]:
        """The state a checkpoint needs to continue training exactly: optimiser name/settings,
        buffers and step count, the run's seed, optimisation steps and epochs done."""
        self._compiled()
        trainer = self.__dict__.get("_trainer")
        if trainer is None:
            empty = np.zeros(0, np.float32)
            return {"optimizer": None, "seed": None, "step": 0, "optimizer_steps": 0, "state1": empty,
                    "state2": empty, "epoch": 0}
        s1, s2, optimizer_steps = _native.trainer_get_state(trainer)
        name, lr, momentum, dampening, nesterov, wd, betas, eps = self._trainer_key
        return {"optimizer": {"name": name, "lr": lr, "momentum": momentum, "dampening": dampening,
                              "nesterov": nesterov, "weight_decay": wd, "betas": list(betas), "eps": eps},
                "seed": self._trainer_seed, "step": _native.trainer_step(trainer), "optimizer_steps": optimizer_steps,
                "state1": s1, "state2": s2, "epoch": self.__dict__.get("_epochs_done", 0)}

    def restore_training_state(self, state: Mapping[str, Any]) -> None:
        """Re-creates the trainer from ``training_state()`` output (e.g. a checkpoint's)."""
        o = state.get("optimizer")
        if o is None:
            self.__dict__.update(_trainer=None, _trainer_key=None, _epochs_done=state.get("epoch", 0))
            return
        trainer = self._trainer_for(o["name"], o["lr"], o["momentum"], o["dampening"], o["nesterov"],
                                    o["weight_decay"], tuple(o["betas"]), o["eps"], state["seed"])
        _native.trainer_set_state(trainer, state["state1"], state["state2"], int(state["optimizer_steps"]))
        _native.trainer_step(trainer, int(state["step"]))
        self.__dict__["_epochs_done"] = int(state.get("epoch", 0))

    def train_step(self, x: ArrayLike, y: ArrayLike, lr: float = 0.01, optimizer: str = "sgd", momentum: float = 0.0,
                   seed: int | None = 0, **optimizer_options: Any) -> float:
        """One optimisation step on the batch (x, y) in the model's current mode (dropout only in
        training mode); returns the batch's mean loss. Consecutive calls with the same settings
        share the optimizer state."""
        x = np.ascontiguousarray(_images(x, "train_step"), dtype=np.float32)
        trainer = self._trainer_for(optimizer, lr, momentum, optimizer_options.get("dampening", 0.0),
                                    optimizer_options.get("nesterov", False),
                                    optimizer_options.get("weight_decay", 0.0),
                                    optimizer_options.get("betas", (0.9, 0.999)), optimizer_options.get("eps", 1e-8),
                                    seed)
        loss, _, _ = _native.trainer_epoch(trainer, x, np.asarray(y), len(x), False, self.training, 0, 1, None)
        return loss

    def fit(self, x: ArrayLike, y: ArrayLike, epochs: int = 1, batch_size: int = 64, lr: float = 0.01,
            optimizer: str = "sgd", momentum: float = 0.0, shuffle: bool = True, seed: int | None = None,
            validation_data: tuple[ArrayLike, ArrayLike] | None = None, progress: bool = True,
            dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0,
            betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
            callback: ProgressCallback | None = None) -> History:
        """Trains in Swift and returns the history: a dict of per-epoch lists (``epoch``,
        ``train_loss``, ``train_accuracy``, ``seconds``, ``images_per_second`` and, with
        ``validation_data=(x, y)``, ``val_loss`` and ``val_accuracy``).

        The defaults are the seed's recipe (SGD, lr 0.01, batch 64). ``seed`` fixes shuffling and
        dropout; calling ``fit`` again with the same settings and seed continues the same run
        (optimizer state and step counter persist). ``progress`` shows a tqdm bar per epoch;
        ``callback(epoch, batch, batches, samples, mean_loss, correct)`` is called every few
        batches (return False to stop). Ctrl-C stops after the current batch.

        ``x`` (and ``validation_data``'s images) must be float32 or float64, normalised: integer
        images such as uint8 pixels are a TypeError here as in ``predict``, ``evaluate``,
        ``forward`` and ``loss_and_grad`` (scale and normalise them first, e.g.
        ``(x / 255 - 0.1307) / 0.3081`` for MNIST-like pixels).
        """
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"fit(): epochs must be a non-negative int, got {epochs!r}")
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"fit(): batch_size must be a positive int, got {batch_size!r}")
        x = np.ascontiguousarray(_images(x, "fit"), dtype=np.float32)
        y = np.asarray(y)
        if validation_data is not None:
            validation_data = (_images(validation_data[0], "fit", "validation_data x"), validation_data[1])
        trainer = self._trainer_for(optimizer, lr, momentum, dampening, nesterov, weight_decay, betas, eps, seed)
        history: History = {"epoch": [], "train_loss": [], "train_accuracy": [], "seconds": [],
                            "images_per_second": []}
        if validation_data is not None:
            history.update(val_loss=[], val_accuracy=[])
        self.train()
        n = len(x)
        batches = (n + batch_size - 1) // batch_size
        report_every = max(1, min(20, batches // 50 or 1))
        for _ in range(epochs):
            epoch = self.__dict__.get("_epochs_done", 0) + 1
            bar = _progress_bar(progress, batches, epoch)
            state = {"last": 0}

            def on_progress(ep: int, batch: int, total: int, samples: int, mean_loss: float, correct: int,
                            bar: Any = bar, state: dict[str, int] = state) -> bool:
                if bar is not None:
                    bar.update(batch - state["last"])
                    bar.set_postfix(loss=f"{mean_loss:.4f}", acc=f"{correct / max(samples, 1):.3f}", refresh=False)
                state["last"] = batch
                if callback is not None:
                    return callback(ep, batch, total, samples, mean_loss, correct) is not False
                return True

            start = time.perf_counter()
            try:
                loss, acc, completed = _native.trainer_epoch(trainer, x, y, batch_size, bool(shuffle), True, epoch,
                                                             report_every, on_progress)
            finally:
                if bar is not None:
                    bar.close()
            seconds = time.perf_counter() - start
            if not np.isfinite(loss):
                import warnings
                warnings.warn(f"training diverged: the mean training loss of epoch {epoch} is {loss}; "
                              "the parameters are no longer finite (lower the learning rate)", RuntimeWarning,
                              stacklevel=2)
            self.__dict__["_epochs_done"] = epoch
            history["epoch"].append(epoch)
            history["train_loss"].append(loss)
            history["train_accuracy"].append(acc)
            history["seconds"].append(seconds)
            history["images_per_second"].append(n / seconds if completed else float("nan"))
            if validation_data is not None:
                vl, va = self.evaluate(*validation_data)
                history["val_loss"].append(vl)
                history["val_accuracy"].append(va)
                self.train()
            if not completed:
                break
        self.eval()
        return history


def _progress_bar(progress: bool, total: int, epoch: int) -> Any:
    if not progress:
        return None
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tqdm.auto warns when ipywidgets is missing; text bars are fine
            from tqdm.auto import tqdm
    except ImportError:  # tqdm is a dependency, but keep working without it
        return None
    # mininterval keeps notebook outputs (and logs) small: a few updates per second at most.
    return tqdm(total=total, desc=f"epoch {epoch}", unit="batch", leave=True, mininterval=0.5)

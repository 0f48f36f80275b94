"""Layers declared in Python like their ``torch.nn`` namesakes and executed by the Swift engine.

A model is a tree of :class:`Module` objects. The first time it is used, the tree is compiled
into a Swift network (parameters initialised as PyTorch does, from ``seed``); training,
evaluation and inference then run in Swift with the GIL released.

    >>> from swiftstn import nn
    >>> model = nn.Sequential(
    ...     nn.SpatialTransformer(
    ...         nn.Sequential(nn.Conv2d(1, 8, 7), nn.MaxPool2d(2), nn.ReLU(),
    ...                       nn.Conv2d(8, 10, 5), nn.MaxPool2d(2), nn.ReLU()),
    ...         nn.Sequential(nn.Linear(90, 32), nn.ReLU(), nn.Linear(32, 6))),
    ...     nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
    ...     nn.Linear(1440, 10), nn.LogSoftmax(dim=1))
    >>> history = model.fit(x_train, y_train, epochs=1)          # doctest: +SKIP

Parameter names follow PyTorch's (``0.localization.0.weight`` …), so ``state_dict()`` /
``load_state_dict()`` exchange weights with an equivalent ``torch.nn`` model.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar, Union

from . import _native
from ._model import ModelMixin
from .functional import _align_corners

__all__ = ["Module", "Sequential", "Conv2d", "Linear", "MaxPool2d", "ReLU", "Flatten", "LogSoftmax", "Dropout",
           "Dropout2d", "SpatialTransformer", "set_max_parameters", "get_max_parameters"]

#: An int, or a pair of ints (height, width).
IntOrPair = Union[int, Sequence[int]]


def set_max_parameters(n: int) -> None:
    """Sets the largest parameter count a model may be compiled with.

    A model over it raises :class:`MemoryError` naming the layer that crosses it, before anything
    is allocated. The default, :func:`get_max_parameters` before any call, is a quarter of the
    machine's physical memory in float32 values (training keeps about four copies: parameters,
    gradients, momentum and per-chunk gradients), at most 2**31. ``n`` may be at most half of
    physical memory in float32 values. Applies to models compiled afterwards, in every thread.
    """
    _native.network_set_max_parameters(_positive(n, "set_max_parameters(): n"))


def get_max_parameters() -> int:
    """The largest parameter count a model may be compiled with (see :func:`set_max_parameters`)."""
    return _native.network_get_max_parameters()


def _pair(v: IntOrPair, name: str) -> tuple[int, int]:
    if isinstance(v, int):
        return (v, v)
    try:
        a, b = v
        return (int(a), int(b))
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a pair of ints, got {v!r}") from None


def _positive(v: Any, name: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise ValueError(f"{name} must be a positive int, got {v!r}")
    return v


class Module(ModelMixin):
    """Base class of every layer and model, like ``torch.nn.Module``: holds child modules
    (registered by attribute assignment, in order, which gives the parameters their PyTorch names)
    and the ``training`` flag. Any module can be used as a model: the engine-backed methods
    (``fit``, ``predict``, ``state_dict``, …) come from :class:`swiftstn._model.ModelMixin`.

    Subclass :class:`Sequential`, or define a composite model by assigning layers to attributes
    and listing the computation in a ``layers()`` method (see ``swiftstn.models.BlogNet``)."""

    _modules: OrderedDict[str, Module]
    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Module):
            self.__dict__.setdefault("_modules", OrderedDict())[name] = value
        object.__setattr__(self, name, value)

    def named_children(self) -> list[tuple[str, Module]]:
        """The direct child modules as (attribute name, module) pairs, in assignment order."""
        return list(self._modules.items())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and all its descendants as (dotted name, module) pairs, depth first; this
        module's name is ``prefix`` (``""`` by default), as in ``torch.nn.Module.named_modules``."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    # Leaf layers override these two.
    def _param_names(self) -> list[str]:
        """Names of this layer's own parameters, in the engine's order."""
        return []

    def _spec(self, leaves: list[Module]) -> str:
        """The engine spec of this module; appends every layer that owns parameters to `leaves`."""
        raise NotImplementedError(f"{type(self).__name__} must define layers() to be executed")

    def __repr__(self) -> str:
        children = self.named_children()
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({n}): " + repr(m).replace("\n", "\n  ") for n, m in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"

    def extra_repr(self) -> str:
        """The arguments shown inside ``repr()`` of a leaf layer (as in PyTorch)."""
        return ""


class _Composite(Module):
    """A module whose computation is the list of modules returned by ``layers()``."""

    def layers(self) -> list[Module]:
        """The modules this model applies, in order (layers with parameters must also be
        attributes, so that they have names)."""
        raise NotImplementedError

    def _spec(self, leaves: list[Module]) -> str:
        return "seq(" + ",".join(m._spec(leaves) for m in self.layers()) + ")"


class Sequential(_Composite):
    """``torch.nn.Sequential``: applies ``modules`` in order. Children are named ``"0"``, ``"1"``,
    …, so parameters are keyed ``0.weight``, ``0.localization.0.bias`` … as in PyTorch. Indexing
    and ``len()`` work as on a list."""

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} is not a swiftstn.nn.Module: {m!r}")
            setattr(self, str(i), m)

    def layers(self) -> list[Module]:
        """The modules, in order."""
        return list(self._modules.values())

    def __getitem__(self, i: int) -> Module:
        return self.layers()[i]

    def __len__(self) -> int:
        return len(self._modules)


class Conv2d(Module):
    """``torch.nn.Conv2d`` (zero padding; no dilation or groups): N×``in_channels``×H×W →
    N×``out_channels``×H'×W' with H' = (H + 2·padding − kernel) // stride + 1 (likewise W').
    ``kernel_size``, ``stride`` and ``padding`` are ints or (height, width) pairs. Parameters:
    ``weight`` (out×in×kh×kw) and, with ``bias=True``, ``bias`` (out), initialised as PyTorch
    does."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrPair, stride: IntOrPair = 1,
                 padding: IntOrPair = 0, bias: bool = True) -> None:
        super().__init__()
        self.in_channels = _positive(in_channels, "in_channels")
        self.out_channels = _positive(out_channels, "out_channels")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = _pair(stride, "stride")
        self.padding = _pair(padding, "padding")
        self.bias = bool(bias)
        if min(self.kernel_size + self.stride) <= 0 or min(self.padding) < 0:
            raise ValueError("Conv2d: kernel_size and stride must be positive and padding non-negative")

    def _param_names(self) -> list[str]:
        return ["weight", "bias"] if self.bias else ["weight"]

    def _spec(self, leaves: list[Module]) -> str:
        leaves.append(self)
        k, s, p = self.kernel_size, self.stride, self.padding
        return (f"conv({self.in_channels},{self.out_channels},{k[0]},{k[1]},{s[0]},{s[1]},{p[0]},{p[1]},"
                f"{int(self.bias)})")

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"


class Linear(Module):
    """``torch.nn.Linear``: N×``in_features`` → N×``out_features``, y = x·Wᵀ + b. Unlike
    PyTorch's, an (N, ...) input is flattened to (N, in_features) first, so no ``Flatten`` is
    needed after a convolution. Parameters: ``weight`` (out×in) and, with ``bias=True``, ``bias``
    (out), initialised as PyTorch does."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features = _positive(in_features, "in_features")
        self.out_features = _positive(out_features, "out_features")
        self.bias = bool(bias)

    def _param_names(self) -> list[str]:
        return ["weight", "bias"] if self.bias else ["weight"]

    def _spec(self, leaves: list[Module]) -> str:
        leaves.append(self)
        return f"linear({self.in_features},{self.out_features},{int(self.bias)})"

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias}"


class MaxPool2d(Module):
    """``torch.nn.MaxPool2d`` (no padding, floor mode): the maximum of each ``kernel_size``
    window, moved by ``stride`` (default: ``kernel_size``); ints or (height, width) pairs.
    N×C×H×W → N×C×H'×W' with H' = (H − kernel) // stride + 1."""

    def __init__(self, kernel_size: IntOrPair, stride: IntOrPair | None = None) -> None:
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride")
        if min(self.kernel_size + self.stride) <= 0:
            raise ValueError("MaxPool2d: kernel_size and stride must be positive")

    def _spec(self, leaves: list[Module]) -> str:
        k, s = self.kernel_size, self.stride
        return f"maxpool({k[0]},{k[1]},{s[0]},{s[1]})"

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class ReLU(Module):
    """``torch.nn.ReLU``: max(x, 0), any shape. ``inplace`` is accepted for compatibility and
    ignored (the engine manages its own buffers)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()  # in-place or not, the engine manages its own buffers

    def _spec(self, leaves: list[Module]) -> str:
        return "relu"


class Flatten(Module):
    """``torch.nn.Flatten()``: (N, ...) → (N, features)."""

    def _spec(self, leaves: list[Module]) -> str:
        return "flatten"


class LogSoftmax(Module):
    """``torch.nn.LogSoftmax(dim=1)``: log-probabilities over the classes of an N×classes input
    (only the class dimension, ``dim=1`` or ``-1``, is supported). A model ending in it trains
    with the negative log-likelihood loss, as the seed does (``F.nll_loss``); a model ending in
    logits trains with cross-entropy."""

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        if dim not in (1, -1):
            raise ValueError(f"LogSoftmax: only the class dimension (dim=1) is supported, got dim={dim}")

    def _spec(self, leaves: list[Module]) -> str:
        return "logsoftmax"


class _DropoutBase(Module):
    """Shared by the dropout layers: the probability ``p`` of zeroing an element."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = float(p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout(_DropoutBase):
    """``torch.nn.Dropout(p)``: in training mode, zeroes each element with probability ``p`` and
    scales the others by 1/(1 − p); the identity in evaluation mode. Any shape. The masks are
    drawn from the run's seed and step (reproducible)."""

    def _spec(self, leaves: list[Module]) -> str:
        return f"dropout({self.p!r})"


class Dropout2d(_DropoutBase):
    """``torch.nn.Dropout2d(p)``: in training mode, zeroes whole channels of an N×C×H×W input
    with probability ``p`` and scales the others by 1/(1 − p); the identity in evaluation mode."""

    def _spec(self, leaves: list[Module]) -> str:
        return f"dropout2d({self.p!r})"


class SpatialTransformer(Module):
    """A spatial transformer (Jaderberg et al., 2015; the PyTorch STN tutorial's ``stn()``):
    ``localization`` maps the N×C×H×W input to features, ``regressor`` maps the flattened
    features to a transform, and the input is resampled on that transform's grid (bilinear, zero
    padding, ``align_corners`` as in :func:`swiftstn.affine_grid`: a bool, anything else is a
    ``TypeError``), keeping its shape N×C×H×W. Both sub-networks are :class:`Module` objects
    (typically :class:`Sequential`); in a ``Sequential`` model their parameters are named
    ``0.localization.0.weight``, ``0.regressor.2.bias`` and so on.

    ``transform`` constrains what the regressor outputs: ``"affine"`` (6 numbers, theta),
    ``"attention"`` (3: isotropic scale s and translation: [[s, 0, tx], [0, s, ty]]) or
    ``"similarity"`` (4: a, b, tx, ty with a = s·cos φ, b = s·sin φ: [[a, −b, tx], [b, a, ty]]),
    ``"projective"`` (8: a homography [[h0, h1, h2], [h3, h4, h5], [h6, h7, 1]] on normalised
    coordinates, sampled through ``perspective_grid``) or ``"tps"`` (2K: displacements of K control
    points on a regular √K×√K grid, sampled through ``tps_grid``; K = regressor outputs / 2).
    The regressor's last Linear layer is initialised to the identity transform (weight 0, bias the
    identity's parameters, e.g. (1, 0, 0, 0, 1, 0) for affine), as in the STN tutorial.
    """

    #: name → engine code and regressor outputs per sample (for "tps", the default of K = 16
    #: control points; any 2K with K a square ≥ 4 works)
    TRANSFORMS: ClassVar[dict[str, tuple[int, int]]] = {
        "affine": (0, 6), "attention": (1, 3), "similarity": (2, 4), "projective": (3, 8), "tps": (4, 32)}
    #: the transforms whose parameters are an affine theta (``theta()`` shows them)
    AFFINE_FAMILY: ClassVar[tuple[str, ...]] = ("affine", "attention", "similarity")

    def __init__(self, localization: Module, regressor: Module, align_corners: bool = False,
                 transform: str = "affine") -> None:
        super().__init__()
        if transform not in self.TRANSFORMS:
            raise ValueError(f"SpatialTransformer: transform must be one of {tuple(self.TRANSFORMS)}, "
                             f"got {transform!r}")
        if not isinstance(localization, Module) or not isinstance(regressor, Module):
            raise TypeError("SpatialTransformer: localization and regressor must be swiftstn.nn modules")
        self.localization = localization
        self.regressor = regressor
        self.align_corners = _align_corners(align_corners, "SpatialTransformer")
        self.transform = transform

    def _spec(self, leaves: list[Module]) -> str:
        leaves.append(self)  # recorded so the model knows its transformers (no parameters of its own)
        loc = self.localization._spec(leaves)
        reg = self.regressor._spec(leaves)
        code, _ = self.TRANSFORMS[self.transform]
        suffix = "" if code == 0 else f",{code}"
        return f"stn({loc},{reg},{int(self.align_corners)}{suffix})"

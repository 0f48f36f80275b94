"""Model conversion between ``swiftstn.nn`` and ``torch.nn``, both ways, keeping parameter names.

``to_torch(model)`` turns a swiftstn model (``nn.Sequential``, a single layer, a
``SpatialTransformer`` or an ``nn._Composite`` subclass such as ``models.BlogNet``) into a
``torch.nn.Module`` with the same ``state_dict`` keys and values and the same forward: the engine's
layers map to their ``torch.nn`` namesakes, and its spatial transformer to
:class:`SpatialTransformer`, whose sampling runs through :mod:`swiftstn.torch.functional`
(differentiable custom ops). Two engine semantics are made explicit on the torch side: a
``Linear`` flattens its (N, ...) input to (N, features) first, and a transformer flattens the
localisation features before its regressor.

``from_torch(module, example_input)`` goes the other way. The module is traced with
``torch.fx`` (in training mode, so that ``F.dropout(x, training=self.training)`` reads as a
dropout layer) and its shapes are propagated with ``example_input``; the graph must be a chain of
supported layers and calls, plus the spatial-transformer diamond
``grid_sample(a, affine_grid(view(regressor(flatten(localization(a))), -1, 2, 3), a.size()))``,
which becomes one ``swiftstn.nn.SpatialTransformer``. The result is a compiled swiftstn model
carrying the torch weights under the torch names (``conv1.weight``, ``fc_loc.2.bias``, …).
Anything that cannot be converted exactly raises a ``ValueError`` that names the module (qualified
name and class) or the call (function or method) and, where it matters, the shapes.
"""
import operator
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Optional, Union

import numpy as np
import torch
import torch.fx
import torch.nn.functional as F
from torch import nn as tnn
from torch.fx.passes.shape_prop import ShapeProp

from .. import nn as snn
from . import functional as _tf

__all__ = ["to_torch", "from_torch", "SpatialTransformer", "Sequential", "Composite", "ConvertedModel",
           "spatial_transform"]

_TRANSFORMS = tuple(snn.SpatialTransformer.TRANSFORMS)


# =============================================================================================
# torch side: the engine's semantics as torch modules
# =============================================================================================

def spatial_transform(x: torch.Tensor, localization, regressor, align_corners: bool = False,
                      transform: str = "affine") -> torch.Tensor:
    """The engine's spatial transformer on a torch tensor: ``regressor(flatten(localization(x)))``
    gives the transform's parameters, whose grid samples ``x`` (bilinear, zero padding) at its own
    size. ``localization`` and ``regressor`` are callables (modules)."""
    params = regressor(torch.flatten(localization(x), 1))
    if transform == "projective":
        # H = [[h0, h1, h2], [h3, h4, h5], [h6, h7, 1]]
        H = torch.cat([params, torch.ones_like(params[:, :1])], 1).view(-1, 3, 3)
        grid = _tf.perspective_grid(H, x.size(), align_corners=align_corners)
    elif transform == "tps":
        # 2K outputs = K (dx, dy) displacements of the default √K×√K control points
        grid = _tf.tps_grid(params.unflatten(1, (-1, 2)), x.size(), control_points=None, align_corners=align_corners)
    else:
        if transform == "attention":  # (s, tx, ty) → [[s, 0, tx], [0, s, ty]]
            s, tx, ty = params.unbind(1)
            zero = torch.zeros_like(s)
            params = torch.stack([s, zero, tx, zero, s, ty], 1)
        elif transform == "similarity":  # (a, b, tx, ty) → [[a, −b, tx], [b, a, ty]]
            a, b, tx, ty = params.unbind(1)
            params = torch.stack([a, -b, tx, b, a, ty], 1)
        elif transform != "affine":
            raise ValueError(f"spatial_transform(): transform must be one of {_TRANSFORMS}, got {transform!r}")
        theta = params.view(-1, 2, 3)
        grid = _tf.affine_grid(theta, x.size(), align_corners=align_corners)
    return _tf.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=align_corners)


class SpatialTransformer(tnn.Module):
    """Torch twin of :class:`swiftstn.nn.SpatialTransformer`: ``localization`` maps the N×C×H×W
    input to features, ``regressor`` maps the flattened features to the transform's parameters
    (``transform``: affine 6, attention 3, similarity 4, projective 8, tps 2K), and the input is
    resampled on that transform's grid (bilinear, zeros, ``align_corners``) by swiftstn's ops."""

    def __init__(self, localization: tnn.Module, regressor: tnn.Module, align_corners: bool = False,
                 transform: str = "affine"):
        super().__init__()
        if transform not in _TRANSFORMS:
            raise ValueError(f"SpatialTransformer: transform must be one of {_TRANSFORMS}, got {transform!r}")
        self.localization = localization
        self.regressor = regressor
        self.align_corners = bool(align_corners)
        self.transform = transform

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return spatial_transform(x, self.localization, self.regressor, self.align_corners, self.transform)

    def extra_repr(self) -> str:
        return f"align_corners={self.align_corners}, transform={self.transform!r}"


class Sequential(tnn.Sequential):
    """``torch.nn.Sequential`` with the engine's ``Linear``: its (N, ...) input is flattened to
    (N, features) first (a no-op on N×F inputs; torch's Linear would act on the last axis)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self:
            if isinstance(module, tnn.Linear):
                x = torch.flatten(x, 1)
            x = module(x)
        return x


class Composite(tnn.Module):
    """Torch twin of a swiftstn ``nn._Composite`` (e.g. ``models.BlogNet``): the children mirror
    the swiftstn attributes (so parameter names match) and ``forward`` runs the steps of its
    ``layers()`` chain: child modules by path, parameterless layers created by ``layers()`` as
    ``torch.nn.functional`` calls, and transformers built there through :func:`spatial_transform`."""

    def __init__(self, steps: Sequence[tuple] = ()):
        super().__init__()
        self.chain_steps = list(steps)  # not "steps": a child module could be called that

    def _run(self, steps: Sequence[tuple], x: torch.Tensor) -> torch.Tensor:
        for step in steps:
            kind = step[0]
            if kind == "call":
                x = self.get_submodule(step[1])(x)
            elif kind == "linear":  # the engine's Linear flattens its input
                x = self.get_submodule(step[1])(torch.flatten(x, 1))
            elif kind == "relu":
                x = F.relu(x)
            elif kind == "maxpool":
                x = F.max_pool2d(x, step[1], step[2])
            elif kind == "flatten":
                x = torch.flatten(x, 1)
            elif kind == "logsoftmax":
                x = F.log_softmax(x, dim=1)
            elif kind == "dropout":
                x = F.dropout(x, p=step[1], training=self.training)
            elif kind == "dropout2d":
                x = F.dropout2d(x, p=step[1], training=self.training)
            elif kind == "stn":
                _, loc, reg, align_corners, transform = step
                # The lambdas are called by spatial_transform before the loop moves on (B023).
                x = spatial_transform(x, lambda t: self._run(loc, t),  # noqa: B023
                                      lambda t: self._run(reg, t), align_corners, transform)  # noqa: B023
            else:  # pragma: no cover - steps are built by to_torch only
                raise ValueError(f"Composite: unknown step {step!r}")
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(self.chain_steps, x)

    def extra_repr(self) -> str:
        return f"steps={len(self.chain_steps)}"


# =============================================================================================
# to_torch
# =============================================================================================

def _torch_leaf(m: snn.Module) -> tnn.Module:
    """The torch layer of one swiftstn leaf layer (parameters copied later)."""
    if isinstance(m, snn.Conv2d):
        return tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, stride=m.stride, padding=m.padding,
                          bias=m.bias)
    if isinstance(m, snn.Linear):
        return tnn.Linear(m.in_features, m.out_features, bias=m.bias)
    if isinstance(m, snn.MaxPool2d):
        return tnn.MaxPool2d(m.kernel_size, stride=m.stride)
    if isinstance(m, snn.ReLU):
        return tnn.ReLU()  # not in place: autograd may need the input
    if isinstance(m, snn.Flatten):
        return tnn.Flatten(1)
    if isinstance(m, snn.LogSoftmax):
        return tnn.LogSoftmax(dim=1)
    if isinstance(m, snn.Dropout2d):
        return tnn.Dropout2d(m.p)
    if isinstance(m, snn.Dropout):
        return tnn.Dropout(m.p)
    raise ValueError(f"to_torch(): no torch equivalent for the swiftstn layer {type(m).__name__}")


def _functional_step(m: snn.Module, where: str) -> tuple:
    """A Composite step for a parameterless layer that layers() creates on the fly."""
    if isinstance(m, snn.ReLU):
        return ("relu",)
    if isinstance(m, snn.MaxPool2d):
        return ("maxpool", m.kernel_size, m.stride)
    if isinstance(m, snn.Flatten):
        return ("flatten",)
    if isinstance(m, snn.LogSoftmax):
        return ("logsoftmax",)
    if isinstance(m, snn.Dropout2d):
        return ("dropout2d", m.p)
    if isinstance(m, snn.Dropout):
        return ("dropout", m.p)
    raise ValueError(f"to_torch(): {where}: {type(m).__name__} created by layers() has parameters but is not an "
                     "attribute of the model, so it has no parameter name; assign it to an attribute")


class _ToTorch:
    """One to_torch() conversion: swiftstn module → torch module, memoised by identity (a module
    shared between an attribute and layers() converts once)."""

    def __init__(self):
        self.memo: dict[int, tnn.Module] = {}

    def module(self, m: snn.Module) -> tnn.Module:
        if id(m) in self.memo:
            return self.memo[id(m)]
        t: tnn.Module
        if isinstance(m, snn.Sequential):
            t = Sequential(*[self.module(child) for child in m.layers()])
        elif isinstance(m, snn.SpatialTransformer):
            t = SpatialTransformer(self.module(m.localization), self.module(m.regressor), m.align_corners,
                                   m.transform)
        elif isinstance(m, snn._Composite):
            t = Composite()
            for name, child in m.named_children():
                t.add_module(name, self.module(child))
            paths: dict[int, str] = {}
            for path, sub in m.named_modules():
                paths.setdefault(id(sub), path)
            t.chain_steps = self.steps(m.layers(), paths, type(m).__name__)
        elif m.named_children():  # a plain container (e.g. from_torch's namespaces)
            t = tnn.Module()
            for name, child in m.named_children():
                t.add_module(name, self.module(child))
        else:
            t = _torch_leaf(m)
        self.memo[id(m)] = t
        return t

    def steps(self, layers: Sequence[snn.Module], paths: dict[int, str], owner: str) -> list[tuple]:
        """Composite steps for a chain of swiftstn layers; `paths` locates the owner's attributes."""
        out: list[tuple] = []
        for i, layer in enumerate(layers):
            path = paths.get(id(layer))
            if path:  # an attribute of the owner: call its torch twin by path
                self.module(layer)
                out.append(("linear" if isinstance(layer, snn.Linear) else "call", path))
            elif isinstance(layer, snn.Sequential):  # created by layers(): inline its chain
                out += self.steps(layer.layers(), paths, owner)
            elif isinstance(layer, snn.SpatialTransformer):
                loc = self.steps([layer.localization], paths, owner)
                reg = self.steps([layer.regressor], paths, owner)
                out.append(("stn", loc, reg, layer.align_corners, layer.transform))
            elif isinstance(layer, snn._Composite):
                out += self.steps(layer.layers(), paths, owner)
            else:
                out.append(_functional_step(layer, f"{owner}.layers()[{i}]"))
        return out


def to_torch(model: snn.Module) -> tnn.Module:
    """A ``torch.nn.Module`` computing what the swiftstn ``model`` computes, with the same
    parameter names (``state_dict`` keys) and values, in the model's current mode (train/eval).

    Sequentials become :class:`Sequential`, transformers :class:`SpatialTransformer`, composites
    (``layers()`` chains such as ``models.BlogNet``) :class:`Composite`; dropout layers become
    ``nn.Dropout``/``nn.Dropout2d`` (or ``F.dropout`` when ``layers()`` creates them) with the same
    ``p``. Raises ``TypeError`` for a non-swiftstn argument and ``ValueError`` when a layer cannot
    be converted or the names would differ.
    """
    if not isinstance(model, snn.Module):
        raise TypeError(f"to_torch(): model must be a swiftstn.nn.Module, got {type(model).__name__}")
    state = model.state_dict()  # compiles the model (with its seed) if it was not yet
    converted = _ToTorch().module(model)
    expected = list(state)
    got = list(converted.state_dict())
    if set(got) != set(expected):
        extra = sorted(set(got) - set(expected))
        missing = sorted(set(expected) - set(got))
        raise ValueError(f"to_torch(): the torch module's parameter names differ from the model's: extra {extra} "
                         f"(attributes not used by layers()?), missing {missing}")
    with torch.no_grad():
        converted.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in state.items()})
    return converted.train(model.training)


# =============================================================================================
# from_torch
# =============================================================================================

class ConvertedModel(snn._Composite):
    """A swiftstn model made by :func:`from_torch`: its attributes mirror the torch module's
    hierarchy (so parameter names match) and ``layers()`` is the converted forward chain.
    ``source`` is the torch class's name."""

    source: str
    _chain: list[snn.Module]

    def __init__(self, source: str = "Module"):
        super().__init__()
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "_chain", [])

    def layers(self):
        return list(self._chain)

    def __repr__(self):
        return super().__repr__().replace("ConvertedModel", f"ConvertedModel[{self.source}]", 1)


class _Namespace(snn.Module):
    """A swiftstn container that only names its children (a torch container whose layers are
    executed through the converted chain)."""

    source: str

    def __init__(self, source: str):
        super().__init__()
        object.__setattr__(self, "source", source)

    def __repr__(self):
        return super().__repr__().replace("_Namespace", self.source, 1)


def _swiftstn_torch_functions() -> dict[str, set]:
    """swiftstn.torch's grid functions (and patch()'s wrappers of torch's), by role."""
    roles: dict[str, set] = {"affine_grid": {_tf.affine_grid}, "grid_sample": {_tf.grid_sample}}
    try:
        from . import _patch
    except ImportError:  # pragma: no cover - patch() is optional here
        return roles
    for name, funcs in roles.items():
        wrapper = getattr(_patch, name, None)
        if wrapper is not None:
            funcs.add(wrapper)
    return roles


class _Tracer(torch.fx.Tracer):
    """fx tracer that keeps :class:`SpatialTransformer` whole and records swiftstn.torch's grid
    functions as calls (they check their arguments, which fx's proxies would not pass)."""

    def __init__(self, module: tnn.Module):
        import sys

        import swiftstn.torch as package
        funcs = (_tf.affine_grid, _tf.grid_sample, _tf.perspective_grid, _tf.tps_grid, _tf.warp_affine,
                 _tf.warp_perspective)
        super().__init__(autowrap_functions=funcs)
        search = getattr(self, "_autowrap_search", None)
        if isinstance(search, list):
            # fx wraps only names in forward()'s globals: also wrap them in the modules that define
            # the classes' other methods (Net.stn) and calls through the package (st.grid_sample)
            defining = {c.__module__ for m in module.modules() for c in type(m).__mro__}
            search += [_tf, package] + [sys.modules[n] for n in sorted(defining) if n in sys.modules
                                         and n != "builtins" and not n.startswith("torch.")]

    def is_leaf_module(self, m: tnn.Module, qualname: str) -> bool:
        return isinstance(m, SpatialTransformer) or super().is_leaf_module(m, qualname)


def _name_of(target) -> str:
    """A readable name of a call_function target: torch.nn.functional.X / torch.X when it is one."""
    name = getattr(target, "__name__", None)
    if name:
        for prefix, namespace in (("torch.nn.functional", F), ("torch", torch)):
            if getattr(namespace, name, None) is target:
                return f"{prefix}.{name}"
        module = getattr(target, "__module__", None)
        return f"{module}.{name}" if module else name
    return repr(target)


def _fx_node_text(node: torch.fx.Node, root: Optional[tnn.Module] = None) -> str:
    if node.op == "call_module" and root is not None:
        try:
            return f"module '{node.target}' ({type(root.get_submodule(node.target)).__name__})"  # type: ignore[arg-type]
        except AttributeError:
            pass
    if node.op == "call_function":
        return f"call to {_name_of(node.target)} (node '{node.name}')"
    if node.op == "call_method":
        return f"method call .{node.target}() (node '{node.name}')"
    if node.op == "get_attr":
        return f"attribute access {node.target} (node '{node.name}')"
    return f"{node.op} {node.target} (node '{node.name}')"


def _bind(node: torch.fx.Node, what: str, names: Sequence[str], defaults: dict[str, Any],
          skip_first: bool = True) -> dict[str, Any]:
    """The node's arguments by parameter name (`names` excludes the tensor input when skip_first)."""
    args = list(node.args[1:] if skip_first else node.args)
    if len(args) > len(names):
        raise ValueError(f"from_torch(): {what}: too many arguments {tuple(node.args)!r}")
    out = dict(defaults)
    out.update(zip(names, args))
    for k, v in node.kwargs.items():
        if k not in names:
            raise ValueError(f"from_torch(): {what}: unsupported argument {k}={v!r}")
        out[k] = v
    return out


def _shape(node) -> Optional[tuple[int, ...]]:
    meta = node.meta.get("tensor_meta") if isinstance(node, torch.fx.Node) else None
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None


def _pair_int(v, what: str, name: str) -> tuple[int, int]:
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v)
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(a, int) for a in v):
        return (int(v[0]), int(v[1]))
    if isinstance(v, (tuple, list)) and len(v) == 1 and isinstance(v[0], int):
        return (int(v[0]), int(v[0]))
    raise ValueError(f"from_torch(): {what}: {name} must be an int or a pair of ints, got {v!r}")


def _max_pool(what: str, kernel, stride, padding, dilation, ceil_mode, return_indices=False) -> snn.MaxPool2d:
    if _pair_int(padding, what, "padding") != (0, 0):
        raise ValueError(f"from_torch(): {what}: padding={padding!r} is not supported (swiftstn's MaxPool2d has none)")
    if _pair_int(dilation, what, "dilation") != (1, 1):
        raise ValueError(f"from_torch(): {what}: dilation={dilation!r} is not supported")
    if ceil_mode:
        raise ValueError(f"from_torch(): {what}: ceil_mode=True is not supported")
    if return_indices:
        raise ValueError(f"from_torch(): {what}: return_indices=True is not supported")
    k = _pair_int(kernel, what, "kernel_size")
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        _pair_int(stride, what, "stride")
    return snn.MaxPool2d(k, s)


def _dropout_p(what: str, p) -> float:
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
        raise ValueError(f"from_torch(): {what}: p must be a number in [0, 1], got {p!r}")
    return float(p)


def _is_flattening(shape_in, shape_out) -> bool:
    """Whether (N, ...) → (N, prod(...)) — the engine's Flatten."""
    return (shape_in is not None and shape_out is not None and len(shape_in) >= 2 and len(shape_out) == 2
            and shape_out[0] == shape_in[0] and shape_out[1] == int(np.prod(shape_in[1:])))


class _Converter:
    """One from_torch() conversion: walks fx graphs backwards from their output, one chain."""

    visited: set[torch.fx.Node]  # the nodes of the graph being converted that are accounted for
    prefix: str  # the graph's module path in the root ("" for the root's own graph)

    def __init__(self, root: tnn.Module, eval_graph_dropout: dict[str, bool]):
        self.root = root
        self.registry: OrderedDict[str, snn.Module] = OrderedDict()  # torch path → swiftstn module
        self.param_paths: set[str] = set()
        self.eval_dropout = eval_graph_dropout  # node name → `training` in the eval-mode trace
        self.funcs = _swiftstn_torch_functions()

    # ---- modules -----------------------------------------------------------------------------
    def register(self, path: str, m: snn.Module, torch_module: tnn.Module) -> snn.Module:
        """The swiftstn module for the torch module at `path` (one per path; a module with
        parameters may be called once only — the engine has no weight sharing)."""
        if path in self.registry:
            if path in self.param_paths:
                raise ValueError(f"from_torch(): module '{path}' ({type(torch_module).__name__}) is called more than "
                                 "once; shared weights are not supported")
            return self.registry[path]
        self.registry[path] = m
        if m._param_names():
            self.param_paths.add(path)
        return m

    def leaf(self, path: str, mod: tnn.Module, shape_in, shape_out) -> list[snn.Module]:
        """The swiftstn layers (0 or 1) of a call to the torch leaf module `mod` at `path`."""
        what = f"module '{path}' ({type(mod).__name__})"
        if type(mod) is tnn.Identity:
            return []
        if isinstance(mod, SpatialTransformer):
            return [self.transformer_module(path, mod, shape_in)]
        if type(mod) is tnn.Conv2d:
            if mod.groups != 1:
                raise ValueError(f"from_torch(): {what}: groups={mod.groups} is not supported (only groups=1)")
            if tuple(mod.dilation) != (1, 1):
                raise ValueError(f"from_torch(): {what}: dilation={tuple(mod.dilation)} is not supported")
            if mod.padding_mode != "zeros":
                raise ValueError(f"from_torch(): {what}: padding_mode={mod.padding_mode!r} is not supported "
                                 "(only 'zeros')")
            padding = mod.padding
            if padding == "valid":
                padding = (0, 0)
            elif padding == "same":
                if any(k % 2 == 0 for k in mod.kernel_size):  # torch pads asymmetrically then
                    raise ValueError(f"from_torch(): {what}: padding='same' with the even kernel {mod.kernel_size} "
                                     "pads asymmetrically, which swiftstn's Conv2d cannot")
                padding = tuple(k // 2 for k in mod.kernel_size)
            self.expect_rank(what, shape_in, 4)
            # (torch's only string paddings are "valid" and "same", made tuples above)
            return [self.register(path, snn.Conv2d(mod.in_channels, mod.out_channels, tuple(mod.kernel_size),
                                                   stride=tuple(mod.stride), padding=tuple(padding),  # type: ignore[arg-type]
                                                   bias=mod.bias is not None), mod)]
        if type(mod) is tnn.Linear:
            self.expect_rank(what, shape_in, 2, hint="torch's Linear acts on the last axis, swiftstn's on all "
                                                     "features: flatten first")
            return [self.register(path, snn.Linear(mod.in_features, mod.out_features, bias=mod.bias is not None),
                                  mod)]
        if type(mod) is tnn.MaxPool2d:
            self.expect_rank(what, shape_in, 4)
            return [self.register(path, _max_pool(what, mod.kernel_size, mod.stride, mod.padding, mod.dilation,
                                                  mod.ceil_mode, mod.return_indices), mod)]
        if type(mod) is tnn.ReLU:
            return [self.register(path, snn.ReLU(), mod)]
        if type(mod) is tnn.Flatten:
            if shape_in is not None and len(shape_in) == 2 and shape_out == shape_in:
                return []  # flattening N×F is a no-op
            if not _is_flattening(shape_in, shape_out):
                raise ValueError(f"from_torch(): {what}: start_dim={mod.start_dim}, end_dim={mod.end_dim} maps "
                                 f"{shape_in} to {shape_out}, not (N, features); only Flatten(1) is supported")
            return [self.register(path, snn.Flatten(), mod)]
        if type(mod) is tnn.LogSoftmax:
            self.log_softmax_checks(what, mod.dim, None, shape_in)
            return [self.register(path, snn.LogSoftmax(dim=1), mod)]
        if type(mod) is tnn.Dropout:
            return [self.register(path, snn.Dropout(_dropout_p(what, mod.p)), mod)]
        if type(mod) is tnn.Dropout2d:
            self.expect_rank(what, shape_in, 4)
            return [self.register(path, snn.Dropout2d(_dropout_p(what, mod.p)), mod)]
        raise ValueError(f"from_torch(): {what} is not supported; supported: Conv2d, Linear, MaxPool2d, ReLU, "
                         "Flatten, LogSoftmax, Dropout, Dropout2d, Identity, swiftstn.torch.SpatialTransformer")

    @staticmethod
    def expect_rank(what: str, shape, rank: int, hint: str = "") -> None:
        if shape is not None and len(shape) != rank:
            names = {2: "(N, features)", 4: "(N, C, H, W)"}[rank]
            raise ValueError(f"from_torch(): {what}: swiftstn expects {names} inputs here, got shape {shape}"
                             + (f"; {hint}" if hint else ""))

    @staticmethod
    def log_softmax_checks(what: str, dim, dtype, shape_in) -> None:
        if dtype is not None:
            raise ValueError(f"from_torch(): {what}: dtype={dtype!r} is not supported")
        if shape_in is not None and len(shape_in) != 2:
            raise ValueError(f"from_torch(): {what}: swiftstn's LogSoftmax takes (N, classes) inputs, got shape "
                             f"{shape_in}")
        if dim not in (1, -1, None):
            raise ValueError(f"from_torch(): {what}: only dim=1 (the class dimension) is supported, got dim={dim!r}")

    # ---- sub-graphs of a SpatialTransformer module -------------------------------------------
    def transformer_module(self, path: str, mod: SpatialTransformer, shape_in) -> snn.SpatialTransformer:
        what = f"module '{path}' (SpatialTransformer)"
        self.expect_rank(what, shape_in, 4)
        example = torch.zeros(shape_in, dtype=_dtype_of(mod))
        loc_path, reg_path = f"{path}.localization", f"{path}.regressor"
        loc, features = self.submodule(mod.localization, loc_path, example)
        reg, _ = self.submodule(mod.regressor, reg_path, features.flatten(1))
        loc_mod = self.structured(loc_path, mod.localization, loc)
        reg_mod = self.structured(reg_path, mod.regressor, reg)
        stn = snn.SpatialTransformer(loc_mod, reg_mod, align_corners=mod.align_corners, transform=mod.transform)
        if loc_mod.__dict__.get("_structured") and reg_mod.__dict__.get("_structured"):
            self.registry.setdefault(path, stn)  # the torch hierarchy is the swiftstn one here
        return stn

    def structured(self, path: str, torch_seq: tnn.Module, layers: list[snn.Module]) -> snn.Sequential:
        """A swiftstn Sequential for a converted torch Sequential: registered at `path` (children
        named like torch's) when its chain is exactly its children in order, else unregistered."""
        children = list(torch_seq.named_children()) if isinstance(torch_seq, tnn.Sequential) else None
        if children is not None and len(children) == len(layers) and all(
                self.registry.get(f"{path}.{name}") is layer for (name, _), layer in zip(children, layers)) and \
                [name for name, _ in children] == [str(i) for i in range(len(children))]:
            seq = snn.Sequential(*layers)
            object.__setattr__(seq, "_structured", True)
            self.registry.setdefault(path, seq)
            return seq
        return snn.Sequential(*layers)

    def submodule(self, mod: tnn.Module, path: str, example: torch.Tensor):
        """Converts the torch module `mod` (at `path`) on its own: (layers, example output)."""
        gm, out = _trace(mod, example, f"module '{path}' ({type(mod).__name__})")
        return self.graph(gm, path), out

    # ---- graphs ------------------------------------------------------------------------------
    def graph(self, gm: torch.fx.GraphModule, prefix: str = "") -> list[snn.Module]:
        """The swiftstn chain of a traced graph (`prefix` locates gm's root in the root module)."""
        placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
        owner = f"module '{prefix}'" if prefix else type(self.root).__name__
        if len(placeholders) != 1:
            raise ValueError(f"from_torch(): {owner}: forward must take exactly one tensor, it takes "
                             f"{[n.target for n in placeholders]}")
        output = next(n for n in gm.graph.nodes if n.op == "output")
        result = output.args[0]
        if not isinstance(result, torch.fx.Node):
            raise ValueError(f"from_torch(): {owner}: forward must return one tensor, it returns {result!r}")
        # sub-graphs nest (transformers)
        saved: tuple[Any, Any] = self.__dict__.get("visited"), self.__dict__.get("prefix")
        self.visited, self.prefix = set(), prefix
        try:
            layers = self.chain(result, placeholders[0])
            unvisited = [n for n in gm.graph.nodes if n.op not in ("placeholder", "output") and n not in self.visited]
        finally:
            self.visited, self.prefix = saved
        if unvisited:
            raise ValueError(f"from_torch(): {owner}: the graph is not a chain of layers: "
                             f"{_fx_node_text(unvisited[0], gm)} is not on the path from the input to the output "
                             "(branches, merges and unused computations are not supported)")
        return layers

    def visit(self, node: torch.fx.Node) -> None:
        if node in self.visited:
            raise ValueError(f"from_torch(): the graph is not a chain: the result of {_fx_node_text(node)} is used "
                             "more than once")
        self.visited.add(node)

    def chain(self, node: torch.fx.Node, stop: torch.fx.Node) -> list[snn.Module]:
        """Layers mapping `stop`'s value to `node`'s, following each node's tensor input."""
        layers: list[snn.Module] = []
        while node is not stop:
            if node.op == "placeholder":
                raise ValueError(f"from_torch(): the graph is not a chain: the value {stop.name!r} that "
                                 "grid_sample resamples is not the localisation branch's input")
            self.visit(node)
            source, new = self.step(node)
            layers[:0] = new
            node = source
        return layers

    def tensor_input(self, node: torch.fx.Node, what: str) -> torch.fx.Node:
        if not node.args or not isinstance(node.args[0], torch.fx.Node):
            raise ValueError(f"from_torch(): {what}: expected a tensor input, got {node.args!r}")
        return node.args[0]

    def step(self, node: torch.fx.Node) -> tuple[torch.fx.Node, list[snn.Module]]:
        """(the node's tensor input, the layers that compute the node from it)."""
        what = _fx_node_text(node)
        if node.op == "call_module":
            path: str = f"{self.prefix}.{node.target}" if self.prefix else node.target  # type: ignore[assignment]
            mod = self.root.get_submodule(path)
            what = f"module '{path}' ({type(mod).__name__})"
            if len(node.args) != 1 or node.kwargs:
                raise ValueError(f"from_torch(): {what}: expected a call with one tensor, got {len(node.args)} "
                                 f"arguments and {dict(node.kwargs)}")
            src = self.tensor_input(node, what)
            return src, self.leaf(path, mod, _shape(src), _shape(node))
        if node.op == "call_function":
            return self.function(node, what)
        if node.op == "call_method":
            return self.method(node, what)
        raise ValueError(f"from_torch(): {what} is not supported")

    def function(self, node: torch.fx.Node, what: str) -> tuple[torch.fx.Node, list[snn.Module]]:
        t = node.target
        src = self.tensor_input(node, what)
        shape_in = _shape(src)
        if t in (F.relu, torch.relu, torch.relu_, F.relu_):
            _bind(node, what, ["inplace"], {"inplace": False})
            return src, [snn.ReLU()]
        if t is F.max_pool2d:
            a = _bind(node, what, ["kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"],
                      {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False})
            self.expect_rank(what, shape_in, 4)
            return src, [_max_pool(what, a["kernel_size"], a["stride"], a["padding"], a["dilation"], a["ceil_mode"],
                                   a["return_indices"])]
        if t is torch.max_pool2d:
            a = _bind(node, what, ["kernel_size", "stride", "padding", "dilation", "ceil_mode"],
                      {"stride": (), "padding": 0, "dilation": 1, "ceil_mode": False})
            self.expect_rank(what, shape_in, 4)
            return src, [_max_pool(what, a["kernel_size"], a["stride"], a["padding"], a["dilation"], a["ceil_mode"])]
        if t is torch.flatten:
            _bind(node, what, ["start_dim", "end_dim"], {"start_dim": 0, "end_dim": -1})
            return src, self.flatten(what, shape_in, _shape(node))
        if t in (F.dropout, F.dropout2d, torch.dropout):
            if t is torch.dropout:
                a = _bind(node, what, ["p", "train"], {})
                a["training"] = a.get("train")
            else:
                a = _bind(node, what, ["p", "training", "inplace"], {"p": 0.5, "training": True, "inplace": False})
            if a.get("training") is False:
                return src, []  # a dropout that is never active
            if self.eval_dropout.get(node.name) is True and a.get("training") is True:
                raise ValueError(f"from_torch(): {what}: this dropout is active in eval mode too (training=True); "
                                 "pass training=self.training (swiftstn's dropout is off in eval mode)")
            if not isinstance(a.get("training"), bool):
                raise ValueError(f"from_torch(): {what}: training={a.get('training')!r} must be self.training")
            p = _dropout_p(what, a["p"])
            if t is F.dropout2d:
                self.expect_rank(what, shape_in, 4)
                return src, [snn.Dropout2d(p)]
            return src, [snn.Dropout(p)]
        if t in (F.log_softmax, torch.log_softmax):
            a = _bind(node, what, ["dim", "_stacklevel", "dtype"] if t is F.log_softmax else ["dim", "dtype"],
                      {"dim": None, "_stacklevel": 3, "dtype": None})
            self.log_softmax_checks(what, a["dim"], a["dtype"], shape_in)
            return src, [snn.LogSoftmax(dim=1)]
        if t in (F.grid_sample, torch.grid_sampler, torch.grid_sampler_2d) or t in self.funcs["grid_sample"]:
            return self.transformer(node, what)
        raise ValueError(f"from_torch(): {what} is not supported")

    def flatten(self, what: str, shape_in, shape_out) -> list[snn.Module]:
        if shape_in is not None and len(shape_in) == 2 and shape_out == shape_in:
            return []  # flattening an N×F value is a no-op
        if not _is_flattening(shape_in, shape_out):
            raise ValueError(f"from_torch(): {what}: maps shape {shape_in} to {shape_out}, which is not a "
                             "flattening to (N, features); only flatten(x, 1) / view(-1, features) are supported")
        return [snn.Flatten()]

    def method(self, node: torch.fx.Node, what: str) -> tuple[torch.fx.Node, list[snn.Module]]:
        m = node.target
        src = self.tensor_input(node, what)
        shape_in, shape_out = _shape(src), _shape(node)
        if m in ("view", "reshape"):
            self.shape_arguments(node.args[1:])
            return src, self.flatten(f"x.{m}{tuple(_plain(a) for a in node.args[1:])!r} ({what})", shape_in,
                                     shape_out)
        if m == "flatten":
            _bind(node, what, ["start_dim", "end_dim"], {"start_dim": 0, "end_dim": -1})
            return src, self.flatten(what, shape_in, shape_out)
        if m in ("relu", "relu_") and len(node.args) == 1 and not node.kwargs:
            return src, [snn.ReLU()]
        if m == "contiguous":
            return src, []
        if m == "log_softmax":
            a = _bind(node, what, ["dim", "dtype"], {"dim": None, "dtype": None})
            self.log_softmax_checks(what, a["dim"], a["dtype"], shape_in)
            return src, [snn.LogSoftmax(dim=1)]
        raise ValueError(f"from_torch(): {what} is not supported")

    def shape_arguments(self, args) -> None:
        """Marks the nodes of view/reshape shape arguments (x.size(0), x.shape[0]) as visited."""
        for a in args:
            if isinstance(a, (tuple, list)):
                self.shape_arguments(a)
            elif isinstance(a, torch.fx.Node):
                if a in self.visited:
                    continue
                is_size = (a.op == "call_method" and a.target == "size") or (
                    a.op == "call_function" and a.target in (getattr, operator.getitem))
                if not is_size:
                    raise ValueError(f"from_torch(): a view/reshape shape computed by {_fx_node_text(a)} is not "
                                     "supported; use view(-1, features) or x.size(0)")
                self.visited.add(a)
                if a.op == "call_function" and a.target is operator.getitem:
                    self.shape_arguments(a.args[:1])

    # ---- the spatial-transformer diamond -----------------------------------------------------
    def transformer(self, node: torch.fx.Node, what: str) -> tuple[torch.fx.Node, list[snn.Module]]:
        """grid_sample(a, affine_grid(theta, size of a)), theta = view(regressor(flatten(localization(a))), -1, 2, 3)
        → one SpatialTransformer; returns (a, [it])."""
        t = node.target
        if t in (torch.grid_sampler, torch.grid_sampler_2d):
            a = _bind(node, what, ["grid", "interpolation_mode", "padding_mode", "align_corners"], {})
            mode = {0: "bilinear"}.get(a["interpolation_mode"], a["interpolation_mode"])
            padding = {0: "zeros"}.get(a["padding_mode"], a["padding_mode"])
            a.update(mode=mode, padding_mode=padding, fill=None)
        else:
            a = _bind(node, what, ["grid", "mode", "padding_mode", "align_corners", "fill"],
                      {"mode": "bilinear", "padding_mode": "zeros", "align_corners": None, "fill": None})
        if a["mode"] != "bilinear" or a["padding_mode"] != "zeros" or a["fill"] is not None:
            raise ValueError(f"from_torch(): {what}: mode={a['mode']!r}, padding_mode={a['padding_mode']!r}"
                             + (f", fill={a['fill']!r}" if a["fill"] is not None else "")
                             + " is not supported: swiftstn's SpatialTransformer samples with mode='bilinear', "
                               "padding_mode='zeros'")
        align_corners = bool(a["align_corners"])  # None is torch's default, False
        image = self.tensor_input(node, what)
        shape = _shape(image)
        self.expect_rank(what, shape, 4)
        if _shape(node) != shape:
            raise ValueError(f"from_torch(): {what}: samples {shape} into {_shape(node)}; swiftstn's "
                             "SpatialTransformer keeps the input's shape")
        grid = a["grid"]
        gen = grid.target if isinstance(grid, torch.fx.Node) and grid.op == "call_function" else None
        if gen not in (F.affine_grid, torch.affine_grid_generator) and gen not in self.funcs["affine_grid"]:
            raise ValueError(f"from_torch(): {what}: its grid must come straight from affine_grid(theta, "
                             f"x.size()), got {_fx_node_text(grid) if isinstance(grid, torch.fx.Node) else grid!r}")
        gwhat = _fx_node_text(grid)
        self.visit(grid)
        g = _bind(grid, gwhat, ["theta", "size", "align_corners"], {"align_corners": None}, skip_first=False)
        if bool(g["align_corners"]) != align_corners:
            raise ValueError(f"from_torch(): {gwhat} has align_corners={g['align_corners']!r} but {what} has "
                             f"{a['align_corners']!r}; a SpatialTransformer uses one value")
        self.grid_size(g["size"], image, shape, gwhat)
        theta = g["theta"]
        if not isinstance(theta, torch.fx.Node):
            raise ValueError(f"from_torch(): {gwhat}: theta must be computed from the input, got {theta!r}")
        if _shape(theta) is None or tuple(_shape(theta)[1:]) != (2, 3):  # type: ignore[index]
            raise ValueError(f"from_torch(): {gwhat}: theta must be N×2×3, got {_shape(theta)}")
        if theta.op == "call_method" and theta.target in ("view", "reshape"):
            self.visit(theta)
            self.shape_arguments(theta.args[1:])
            params = self.tensor_input(theta, _fx_node_text(theta))
            if _shape(params) is None or int(np.prod(_shape(params)[1:])) != 6:  # type: ignore[index]
                raise ValueError(f"from_torch(): {_fx_node_text(theta)}: expected the regressor's N×6 output, "
                                 f"got {_shape(params)}")
        else:
            params = theta  # a regressor ending in N×2×3 itself is fine as long as it is a chain
        branch = self.chain(params, image)
        cut = next((i for i, m in enumerate(branch) if isinstance(m, snn.Flatten)), len(branch))
        # the engine flattens the localisation features itself: the Flatten splits the branch
        stn = snn.SpatialTransformer(snn.Sequential(*branch[:cut]), snn.Sequential(*branch[cut + 1:]),
                                     align_corners=align_corners, transform="affine")
        return image, [stn]

    def grid_size(self, size, image: torch.fx.Node, shape, what: str) -> None:
        """affine_grid's size must be the sampled image's: image.size(), image.shape or the ints."""
        if isinstance(size, torch.fx.Node):
            ok = (size.op == "call_method" and size.target == "size" and len(size.args) == 1 and not size.kwargs) or \
                 (size.op == "call_function" and size.target is getattr and size.args[1:] == ("shape",))
            if not ok or size.args[0] is not image:
                raise ValueError(f"from_torch(): {what}: size must be the sampled input's x.size() or x.shape, got "
                                 f"{_fx_node_text(size)}")
            self.visit(size)
            return
        try:
            ints = tuple(int(s) for s in size)
        except (TypeError, ValueError):
            raise ValueError(f"from_torch(): {what}: size must be x.size(), x.shape or a tuple of ints, got "
                             f"{size!r}") from None
        if shape is not None and ints != tuple(shape):
            raise ValueError(f"from_torch(): {what}: size {ints} is not the sampled input's shape {tuple(shape)}; "
                             "swiftstn's SpatialTransformer keeps the input's shape")


def _plain(a):
    return a.name if isinstance(a, torch.fx.Node) else a


def _dtype_of(module: tnn.Module) -> torch.dtype:
    p = next(iter(module.parameters()), None)
    return p.dtype if p is not None and p.is_floating_point() else torch.float32


def _trace(module: tnn.Module, example: torch.Tensor, what: str):
    """(fx GraphModule traced in training mode with shapes from `example`, the eval output shape
    as a zero tensor); the module's modes are restored."""
    modes = [(m, m.training) for m in module.modules()]
    try:
        module.train()
        try:
            graph = _Tracer(module).trace(module)
        except Exception as e:  # control flow on tensors, unsupported Python in forward, ...
            raise ValueError(f"from_torch(): {what} cannot be traced by torch.fx: {type(e).__name__}: {e}") from e
        gm = torch.fx.GraphModule(module, graph)
        module.eval()  # shapes only; eval mode keeps any running statistics untouched
        with torch.no_grad():
            try:
                out = ShapeProp(gm).propagate(example)
            except Exception as e:
                raise ValueError(f"from_torch(): {what} fails on example_input of shape {tuple(example.shape)}: "
                                 f"{type(e).__name__}: {e}") from e
    finally:
        for m, mode in modes:
            m.training = mode
    return gm, torch.zeros_like(out) if isinstance(out, torch.Tensor) else out


def _eval_dropout_flags(module: tnn.Module) -> dict[str, bool]:
    """`training` of each functional dropout when traced in eval mode, by node name: a dropout
    still on there would be active at inference, which swiftstn's dropout never is."""
    modes = [(m, m.training) for m in module.modules()]
    try:
        module.eval()
        graph = _Tracer(module).trace(module)
    except Exception:  # the training-mode trace reports tracing problems
        return {}
    finally:
        for m, mode in modes:
            m.training = mode
    flags = {}
    for n in graph.nodes:
        if n.op == "call_function" and n.target in (F.dropout, F.dropout2d, torch.dropout):
            key = "train" if n.target is torch.dropout else "training"
            names = ["input", "p", key]
            value = dict(zip(names, n.args)).get(key, n.kwargs.get(key, True))
            flags[n.name] = value
    return flags


def _build_hierarchy(root: snn.Module, registry: "OrderedDict[str, snn.Module]", torch_root: tnn.Module) -> None:
    """Attaches every registered swiftstn module under its torch path, with namespaces between."""
    def attach(parent: snn.Module, name: str, child: snn.Module) -> None:
        if hasattr(type(parent), name) or name in parent.__dict__:  # e.g. "stn", "layers": name it only
            parent._modules[name] = child
        else:
            setattr(parent, name, child)

    # parents first (shorter paths), then in torch's declaration order
    order = {name: i for i, (name, _) in enumerate(torch_root.named_modules())}
    for path in sorted(registry, key=lambda p: (p.count("."), order.get(p, len(order)))):
        parts = path.split(".")
        node = root
        for depth, part in enumerate(parts[:-1]):
            child = node._modules.get(part)
            if child is None:
                prefix = ".".join(parts[:depth + 1])
                child = _Namespace(type(torch_root.get_submodule(prefix)).__name__)
                attach(node, part, child)
            node = child
        if parts[-1] not in node._modules:
            attach(node, parts[-1], registry[path])
    # a torch Sequential whose children all converted one to one is a swiftstn Sequential
    for path, m in sorted(root.named_modules(), key=lambda pm: -pm[0].count(".")):  # deepest first
        if not isinstance(m, _Namespace) or not path:
            continue
        source = torch_root.get_submodule(path)
        names = [n for n, _ in source.named_children()]
        if isinstance(source, tnn.Sequential) and names == [str(i) for i in range(len(names))] and \
                list(m._modules) == names and all(not isinstance(c, _Namespace) for c in m._modules.values()):
            parent_path, _, name = path.rpartition(".")
            parent = root
            for part in parent_path.split(".") if parent_path else ():
                parent = parent._modules[part]
            seq = snn.Sequential(*m._modules.values())
            if parent.__dict__.get(name) is m:
                setattr(parent, name, seq)
            else:
                parent._modules[name] = seq
    # children in torch's declaration order, so that state_dict() lists them as torch does
    for prefix, m in list(root.named_modules()):
        if isinstance(m, (_Namespace, ConvertedModel)) and len(m._modules) > 1:  # never reorder a Sequential
            items = sorted(m._modules.items(),
                           key=lambda kv: order.get(f"{prefix}.{kv[0]}" if prefix else kv[0], len(order)))
            m._modules.clear()
            m._modules.update(items)


def from_torch(module: tnn.Module, example_input: Union[torch.Tensor, np.ndarray], check: bool = True,
               seed: int = 0) -> snn.Module:
    """A compiled swiftstn model computing what the torch ``module`` computes, with its parameter
    names and values.

    ``module`` is a ``torch.nn.Sequential`` of supported layers (Conv2d with groups=1, dilation=1,
    zeros padding; Linear; MaxPool2d without padding/dilation/ceil_mode; ReLU; Flatten(1);
    LogSoftmax(dim=1); Dropout; Dropout2d; :class:`SpatialTransformer`) or a module whose forward
    chains them and the functional calls ``F.relu``/``torch.relu``, ``F.max_pool2d``,
    ``torch.flatten(x, 1)``/``x.view(-1, n)``/``x.reshape``, ``F.dropout``/``F.dropout2d`` (with
    ``training=self.training``), ``F.log_softmax(x, dim=1)`` and the spatial transformer
    ``grid_sample(x, affine_grid(theta, x.size()))`` (torch's or swiftstn.torch's, bilinear and zeros
    padding; ``align_corners=None`` is torch's False) — the STN tutorial's ``Net``, for instance.
    ``example_input`` (N×C×H×W) gives the shapes. The result is a ``swiftstn.nn.Sequential`` when
    the module is a Sequential whose layers convert one to one, else a :class:`ConvertedModel`
    whose attributes mirror the module's hierarchy; it is in the module's mode (train/eval), its
    parameters initialised from ``seed`` and then replaced by the module's.

    With ``check`` (default), both models are run on ``example_input`` in eval mode and must
    agree within 1e-4 (scaled by the output's magnitude).

    Raises ``TypeError`` for arguments of the wrong type and ``ValueError`` for anything that
    cannot be converted, naming the module (qualified name and class) or the call.
    """
    if not isinstance(module, tnn.Module):
        raise TypeError(f"from_torch(): module must be a torch.nn.Module, got {type(module).__name__}")
    if isinstance(example_input, np.ndarray):
        example_input = torch.from_numpy(example_input)
    if not isinstance(example_input, torch.Tensor):
        raise TypeError(f"from_torch(): example_input must be a torch.Tensor or NumPy array, got "
                        f"{type(example_input).__name__}")
    if example_input.dim() != 4:
        raise ValueError(f"from_torch(): example_input must be N×C×H×W, got shape {tuple(example_input.shape)}")
    dtype = _dtype_of(module)
    example = example_input.detach().to("cpu", dtype)
    name = type(module).__name__

    gm, _ = _trace(module, example, name)
    converter = _Converter(module, _eval_dropout_flags(module))
    layers = converter.graph(gm)

    registry = converter.registry
    children = list(module.named_children())
    if type(module) in (tnn.Sequential, Sequential) and len(layers) == len(children) and all(
            registry.get(n) is layer for (n, _), layer in zip(children, layers)) and \
            [n for n, _ in children] == [str(i) for i in range(len(children))]:
        model: snn.Module = snn.Sequential(*layers)  # one to one: a plain swiftstn Sequential
    else:
        model = ConvertedModel(name)
        _build_hierarchy(model, registry, module)
        object.__setattr__(model, "_chain", layers)
        # a transformer's branch that is one of the model's Sequentials uses it (to_torch calls it by name)
        sequentials = {tuple(map(id, m.layers())): m for _, m in model.named_modules() if isinstance(m, snn.Sequential)}
        for layer in layers:
            if isinstance(layer, snn.SpatialTransformer):
                for part in ("localization", "regressor"):
                    same = sequentials.get(tuple(map(id, getattr(layer, part).layers())))
                    if same is not None:
                        setattr(layer, part, same)

    model.build(seed)
    state = OrderedDict((k, v.detach().to("cpu", torch.float32)) for k, v in module.state_dict().items())
    expected = list(model.state_dict())
    if set(state) != set(expected):
        unused = sorted(set(state) - set(expected))
        raise ValueError(f"from_torch(): {name}: the torch module has parameters or buffers that its forward does "
                         f"not use as swiftstn can: {unused}" if unused else
                         f"from_torch(): {name}: parameters {sorted(set(expected) - set(state))} are missing")
    model.load_state_dict(state)
    model.train(module.training)
    if check:
        _self_check(module, model, example, name)
    return model


def _self_check(module: tnn.Module, model: snn.Module, example: torch.Tensor, name: str) -> None:
    """Runs both models on the example in eval mode; a disagreement means a semantic the
    converter did not see (a ValueError, rather than a silently different model)."""
    modes = [(m, m.training) for m in module.modules()]
    was_training = model.training
    try:
        module.eval()
        model.eval()
        with torch.no_grad():
            expected = module(example).detach().to(torch.float64).numpy()
        got = model.forward(np.ascontiguousarray(example.to(torch.float32).numpy())).astype(np.float64)
    finally:
        for m, mode in modes:
            m.training = mode
        model.train(was_training)
    if got.shape != expected.shape:
        raise ValueError(f"from_torch(): {name}: the converted model outputs {got.shape}, the torch module "
                         f"{expected.shape}")
    err = float(np.max(np.abs(got - expected) / np.maximum(1.0, np.abs(expected)))) if got.size else 0.0
    if not err <= 1e-4:
        raise ValueError(f"from_torch(): {name}: the converted model disagrees with the torch module on "
                         f"example_input (max scaled error {err:.3g}); please report this module")

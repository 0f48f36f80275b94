"""swiftstn for PyTorch users: swiftstn's sampler and grid generators as differentiable
``torch.library`` custom ops (namespace ``swiftstn::``), a switch that routes
``torch.nn.functional.grid_sample``/``affine_grid`` through them, and model conversion both ways.

    >>> import torch, swiftstn.torch as st
    >>> theta = torch.tensor([[[1.0, 0, 0], [0, 1, 0]]], requires_grad=True)
    >>> grid = st.affine_grid(theta, (1, 1, 28, 28), align_corners=False)
    >>> out = st.grid_sample(torch.rand(1, 1, 28, 28), grid, align_corners=False)
    >>> out.sum().backward()                      # theta.grad from swiftstn's backward kernels
    >>> with st.patch():                          # unmodified PyTorch code, swiftstn underneath
    ...     out = torch.nn.functional.grid_sample(torch.rand(1, 1, 28, 28), grid.detach(), align_corners=False)
    >>> net = st.to_torch(swiftstn.models.blog_net(seed=0))   # a torch.nn.Module, same weights # doctest: +SKIP
    >>> model = st.from_torch(net, torch.rand(1, 1, 28, 28))   # and back: a swiftstn model   # doctest: +SKIP

Importing this module needs PyTorch; ``import swiftstn`` alone never imports it. See
docs/torch.md for dtypes, devices, ``torch.compile``/``torch.export``/TorchScript and DDP.
"""
try:
    import torch as _torch  # noqa: F401  (absolute: the real PyTorch, not this package)
except ImportError as e:  # pragma: no cover - exercised only without torch
    raise ImportError("swiftstn.torch needs PyTorch: pip install torch (swiftstn itself works without it)") from e

from ._convert import SpatialTransformer, from_torch, to_torch
from ._patch import disable, enable, is_enabled, patch
from .functional import affine_grid, grid_sample, perspective_grid, tps_grid, warp_affine, warp_perspective

__all__ = ["grid_sample", "affine_grid", "warp_affine", "warp_perspective", "perspective_grid", "tps_grid",
           "patch", "enable", "disable", "is_enabled", "to_torch", "from_torch", "SpatialTransformer"]

"""swiftstn — a fast CPU engine for Spatial Transformer Networks, written in Swift.

The grid generators and the sampler of a spatial transformer, with PyTorch's semantics, on NumPy
arrays:

    >>> import numpy as np, swiftstn
    >>> theta = np.array([[[1, 0, 0], [0, 1, 0]]], dtype=np.float32)
    >>> grid = swiftstn.affine_grid(theta, (1, 1, 28, 28), align_corners=True)
    >>> out = swiftstn.grid_sample(np.zeros((1, 1, 28, 28), np.float32), grid, align_corners=True)
"""
from ._native import get_num_threads, set_num_threads
from ._native import version as _native_version
from .functional import (affine_grid, affine_grid_backward, grid_sample, grid_sample_backward, warp_affine,
                         warp_affine_backward)
from .transforms import (perspective_grid, perspective_grid_backward, tps_grid, tps_grid_backward, warp_perspective,
                         warp_perspective_backward)
from . import checkpoint, datasets, models, nn

__version__ = "0.1.0"

__all__ = [
    "affine_grid",
    "affine_grid_backward",
    "grid_sample",
    "grid_sample_backward",
    "perspective_grid",
    "perspective_grid_backward",
    "tps_grid",
    "tps_grid_backward",
    "warp_affine",
    "warp_affine_backward",
    "warp_perspective",
    "warp_perspective_backward",
    "set_num_threads",
    "get_num_threads",
    "nn",
    "models",
]

"""swiftstn — a fast CPU engine for Spatial Transformer Networks, written in Swift.

The grid generators and the sampler of a spatial transformer, with PyTorch's semantics, on NumPy
arrays:

    >>> import numpy as np, swiftstn
    >>> theta = np.array([[[1, 0, 0], [0, 1, 0]]], dtype=np.float32)
    >>> grid = swiftstn.affine_grid(theta, (1, 1, 28, 28), align_corners=True)
    >>> out = swiftstn.grid_sample(np.zeros((1, 1, 28, 28), np.float32), grid, align_corners=True)

Contents:

- sampling (:mod:`swiftstn.functional`): :func:`affine_grid`, :func:`grid_sample`,
  :func:`warp_affine` and their ``*_backward`` gradients;
- more grid generators (:mod:`swiftstn.transforms`): :func:`perspective_grid`, :func:`tps_grid`,
  :func:`warp_perspective` and their gradients;
- :mod:`swiftstn.geometry`: kornia's and OpenCV's conventions (pixel matrices mapping source to
  destination): ``warp_affine``/``warp_perspective`` and the matrix helpers and converters;
- :mod:`swiftstn.augment`: ``RandomAffine`` and ``RandomPerspective`` (torchvision's parameters,
  per-image transforms applied to a batch in one fused warp);
- :mod:`swiftstn.dask` (needs dask; not imported by ``import swiftstn``): the warps and
  ``predict`` on dask arrays chunked along N;
- :func:`set_num_threads` / :func:`get_num_threads`: the engine's thread count;
- :mod:`swiftstn.nn` (layers and models trained in Swift), :mod:`swiftstn.models` (ready-made
  models), :mod:`swiftstn.datasets` (MNIST, Fashion-MNIST, IDX files),
  :mod:`swiftstn.distortions` (distorted MNIST), :mod:`swiftstn.checkpoint` (training
  checkpoints, export to PyTorch), :mod:`swiftstn.viz` (pictures; needs matplotlib);
- :mod:`swiftstn.torch`: the same operators for PyTorch tensors (needs PyTorch; not imported by
  ``import swiftstn``);
- ``__version__``: this package's version (the Swift library's is ``swiftstn._native.version()``).
"""

from . import augment, checkpoint, datasets, distortions, functional, geometry, models, nn, transforms, viz
from ._native import get_num_threads, set_num_threads
from .functional import (
    affine_grid,
    affine_grid_backward,
    grid_sample,
    grid_sample_backward,
    warp_affine,
    warp_affine_backward,
)
from .transforms import (
    perspective_grid,
    perspective_grid_backward,
    tps_grid,
    tps_grid_backward,
    warp_perspective,
    warp_perspective_backward,
)

# The one place the Python package's version is written: pyproject.toml reads it (setuptools'
# dynamic version), and test_version.py checks it against the installed metadata and the Swift
# library's version (Sources/SwiftSTNC/Entry.swift, which must be changed with it).
__version__ = "0.1.0"

__all__ = [
    "__version__",
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
    "augment",
    "checkpoint",
    "datasets",
    "distortions",
    "functional",
    "geometry",
    "models",
    "nn",
    "transforms",
    "viz",
]

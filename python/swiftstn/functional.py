"""The sampling operators, with the signatures of their ``torch.nn.functional`` namesakes.

Arrays may be float32 or float64 (all arrays of one call share the dtype); C-contiguous arrays
pass to the Swift engine without a copy, anything else (views with strides, other byte orders,
lists) is converted once. Results are new C-contiguous arrays of the same dtype.
"""
from . import _native

_MODES = {"bilinear": 0, "nearest": 1, "bicubic": 2}
_PADDINGS = {"zeros": 0, "border": 1, "reflection": 2}


def _code(table, value, what, op):
    try:
        return table[value]
    except (KeyError, TypeError):
        options = ", ".join(repr(k) for k in table)
        raise ValueError(f"{op}(): expected {what} to be one of {options}, got {value!r}") from None


def affine_grid(theta, size, align_corners=False):
    """Sampling grid of the affine transforms ``theta`` for an output of ``size``.

    ``theta`` is N×2×3 with ``size`` = (N, C, H, W), giving an N×H×W×2 grid, or N×3×4 with
    ``size`` = (N, C, D, H, W), giving N×D×H×W×3. Grid entries are (x, y[, z]) in normalised
    coordinates: −1 and 1 are the centres of the corner pixels with ``align_corners=True``, and
    their outer edges with ``align_corners=False`` (PyTorch's default).
    """
    return _native.affine_grid(theta, size, bool(align_corners))


def affine_grid_backward(grad_grid, size, align_corners=False):
    """Gradient of a loss with respect to ``theta`` given its gradient with respect to the grid."""
    return _native.affine_grid_backward(grad_grid, size, bool(align_corners))


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=False):
    """Samples ``input`` (N×C×H×W or N×C×D×H×W) at ``grid`` (N×Ho×Wo×2 or N×Do×Ho×Wo×3).

    ``mode`` is ``"bilinear"`` (trilinear on 5-D input), ``"nearest"`` (halves round to even) or
    ``"bicubic"`` (4-D only); ``padding_mode`` is ``"zeros"``, ``"border"`` or ``"reflection"``.
    The output is N×C×Ho×Wo (or N×C×Do×Ho×Wo).
    """
    m = _code(_MODES, mode, "mode", "grid_sample")
    p = _code(_PADDINGS, padding_mode, "padding_mode", "grid_sample")
    return _native.grid_sample(input, grid, m, p, bool(align_corners))


def grid_sample_backward(grad_output, input, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False, input_requires_grad=True):
    """Gradients of :func:`grid_sample`: returns ``(grad_input, grad_grid)``.

    With ``input_requires_grad=False`` the input gradient is not computed at all (``None`` is
    returned in its place): a spatial transformer needs only the grid's gradient.
    """
    m = _code(_MODES, mode, "mode", "grid_sample_backward")
    p = _code(_PADDINGS, padding_mode, "padding_mode", "grid_sample_backward")
    return _native.grid_sample_backward(grad_output, input, grid, m, p, bool(align_corners),
                                        bool(input_requires_grad))

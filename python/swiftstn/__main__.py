"""`python -m swiftstn`: a self-check that the installed engine loads and samples correctly."""
import sys

import numpy as np

import swiftstn


def main(argv=None):
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    theta = np.array([[[0.0, -1.0, 0.0], [1.0, 0.0, 0.0]]], dtype=np.float32)  # 90° rotation
    grid = swiftstn.affine_grid(theta, x.shape, align_corners=True)
    out = swiftstn.grid_sample(x, grid, align_corners=True)
    ok = np.allclose(out[0, 0], np.rot90(x[0, 0], k=1), atol=1e-5)
    print(f"swiftstn {swiftstn.__version__} (engine {swiftstn._native_version()}), "
          f"{swiftstn.get_num_threads()} threads")
    print("90° rotation of a 4×4 image through affine_grid + grid_sample:", "OK" if ok else "WRONG")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

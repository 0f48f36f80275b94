/*
 * swiftstn.h — the C ABI of libswiftstn, the Swift engine for Spatial Transformer Networks.
 *
 * Conventions shared by every function
 * ------------------------------------
 *  - Tensors are dense, C-contiguous arrays of the element type named by `dtype`
 *    (STN_FLOAT32 or STN_FLOAT64), described by a pointer to their first element and a shape:
 *    `const int64_t *shape` with `ndim` entries. All tensors of one call share the dtype.
 *  - The caller owns every buffer, inputs and outputs alike; no function allocates memory the
 *    caller must free or keeps a pointer after it returns. Output buffers are sized by the
 *    matching `*_shape` function and are overwritten entirely (never read).
 *  - Every function that can fail returns an int32_t status: STN_OK (0) or one of the codes
 *    below, and writes a NUL-terminated UTF-8 message naming the argument and the shapes into
 *    `err` (capacity `err_len` bytes, truncated to fit; `err` may be NULL). The message buffer is
 *    the caller's, so error reporting is thread-safe. On failure no output has been written.
 *  - Invalid input is always reported through the status; it never aborts the process.
 *  - Functions release no locks and take none: any number of threads may call them at once.
 *    Work inside one call runs on up to stn_get_num_threads() threads, and the results do not
 *    depend on that number (bitwise).
 *  - Semantics are those of torch.nn.functional.affine_grid / grid_sample (PyTorch 2.x, CPU).
 */
#ifndef SWIFTSTN_H
#define SWIFTSTN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. */
#define STN_OK                0
#define STN_INVALID_ARGUMENT  1  /* a value or shape is wrong (Python: ValueError)           */
#define STN_INVALID_TYPE      2  /* an unsupported dtype (Python: TypeError)                  */
#define STN_SIZE_OVERFLOW     3  /* element count or byte size overflows 64 bits              */
#define STN_OUT_OF_MEMORY     4  /* an allocation failed                                      */
#define STN_INTERNAL          5  /* a bug in swiftstn: please report it                       */

/* Element types. */
#define STN_FLOAT32 0
#define STN_FLOAT64 1

/* grid_sample interpolation modes. */
#define STN_MODE_BILINEAR 0      /* trilinear for 5-D input */
#define STN_MODE_NEAREST  1      /* nearest pixel, halves round to even */
#define STN_MODE_BICUBIC  2      /* Keys cubic, A = -0.75; 4-D input only */

/* grid_sample padding modes. */
#define STN_PADDING_ZEROS      0
#define STN_PADDING_BORDER     1
#define STN_PADDING_REFLECTION 2

/* The library version, a static NUL-terminated string such as "0.1.0". */
const char *stn_version(void);

/* Threads used by each call (default: the number of online CPUs). n must be >= 1. */
int32_t stn_set_num_threads(int32_t n, char *err, size_t err_len);
int32_t stn_get_num_threads(void);

/* ---- affine_grid ---------------------------------------------------------------------------
 * size:  (N, C, H, W) for 2-D transforms or (N, C, D, H, W) for 3-D; every entry > 0.
 * theta: (N, 2, 3) or (N, 3, 4) matrices acting on normalised coordinates (x, y[, z], 1).
 * grid:  (N, H, W, 2) or (N, D, H, W, 3), entries (x, y[, z]) in normalised coordinates.
 * align_corners: nonzero maps -1 and 1 to the centres of the corner pixels, zero to their
 * outer edges.
 */

/* Validates theta's shape against size; writes the grid shape (up to 5 entries) and its ndim. */
int32_t stn_affine_grid_shape(const int64_t *theta_shape, int32_t theta_ndim,
                              const int64_t *size, int32_t size_len,
                              int64_t *out_shape, int32_t *out_ndim, char *err, size_t err_len);

/* grid = affine_grid(theta, size, align_corners). */
int32_t stn_affine_grid(int32_t dtype, const void *theta, const int64_t *theta_shape,
                        int32_t theta_ndim, const int64_t *size, int32_t size_len,
                        int32_t align_corners, void *grid, char *err, size_t err_len);

/* Validates grad_grid's shape against size; writes grad_theta's shape. */
int32_t stn_affine_grid_backward_shape(const int64_t *grad_grid_shape, int32_t grad_grid_ndim,
                                       const int64_t *size, int32_t size_len,
                                       int64_t *out_shape, int32_t *out_ndim,
                                       char *err, size_t err_len);

/* grad_theta = d(loss)/d(theta) given grad_grid = d(loss)/d(grid). */
int32_t stn_affine_grid_backward(int32_t dtype, const void *grad_grid,
                                 const int64_t *grad_grid_shape, int32_t grad_grid_ndim,
                                 const int64_t *size, int32_t size_len, int32_t align_corners,
                                 void *grad_theta, char *err, size_t err_len);

/* ---- grid_sample ---------------------------------------------------------------------------
 * input:  (N, C, H, W) with grid (N, Ho, Wo, 2) -> output (N, C, Ho, Wo), or
 *         (N, C, D, H, W) with grid (N, Do, Ho, Wo, 3) -> output (N, C, Do, Ho, Wo).
 * Grid entries are (x, y[, z]) in normalised coordinates; values outside [-1, 1] are padded
 * according to `padding`. NaN, +-Inf and huge grid values never read or write out of bounds;
 * see the README for what they produce.
 */

/* Validates the shapes for `mode`; writes the output shape. */
int32_t stn_grid_sample_shape(const int64_t *input_shape, int32_t input_ndim,
                              const int64_t *grid_shape, int32_t grid_ndim, int32_t mode,
                              int64_t *out_shape, int32_t *out_ndim, char *err, size_t err_len);

/* output = grid_sample(input, grid, mode, padding, align_corners). */
int32_t stn_grid_sample(int32_t dtype, const void *input, const int64_t *input_shape,
                        int32_t input_ndim, const void *grid, const int64_t *grid_shape,
                        int32_t grid_ndim, int32_t mode, int32_t padding, int32_t align_corners,
                        void *output, char *err, size_t err_len);

/* Gradients of grid_sample. grad_output has the forward output's shape. grad_input (input's
 * shape) may be NULL, which skips its computation entirely; grad_grid has the grid's shape.
 * The grid gradient of nearest sampling is zero. */
int32_t stn_grid_sample_backward(int32_t dtype, const void *grad_output,
                                 const int64_t *grad_output_shape, int32_t grad_output_ndim,
                                 const void *input, const int64_t *input_shape, int32_t input_ndim,
                                 const void *grid, const int64_t *grid_shape, int32_t grid_ndim,
                                 int32_t mode, int32_t padding, int32_t align_corners,
                                 void *grad_input, void *grad_grid, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTSTN_H */

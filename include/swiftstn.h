/*
 * swiftstn.h — the C ABI of libswiftstn, the Swift engine for Spatial Transformer Networks.
 *
 * Conventions shared by every function
 * ------------------------------------
 *  - Tensors cross the ABI as one descriptor, `stn_tensor`: a pointer to the first element, the
 *    element type and the shape. Data is dense and C-contiguous. All floating-point tensors of
 *    one call share one dtype (STN_FLOAT32 or STN_FLOAT64).
 *  - The caller owns every buffer, inputs and outputs alike; no function allocates memory the
 *    caller must free or keeps a pointer after it returns. Outputs are overwritten entirely
 *    (never read).
 *  - Two calls per operation (validate once, then compute): an operator validates all of its
 *    arguments into one plan and writes every output descriptor's dtype, ndim and shape. If an
 *    output it is asked for has `data == NULL` while its shape has elements, it stops there
 *    (a shape query: STN_OK, nothing computed); otherwise it computes with that same plan. So:
 *    call with output data NULL, allocate what the descriptors say, call again. An output
 *    without elements needs no data.
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
#define STN_INT64   2            /* class labels of the network functions */
#define STN_UINT8   3            /* images read and written by the samplers (computed in float32) */
#define STN_FLOAT16 4            /* images read and written by the samplers (computed in float32) */

/* Image layouts of the samplers' input and output. */
#define STN_LAYOUT_NCHW 0        /* channels-first, PyTorch's */
#define STN_LAYOUT_NHWC 1        /* channels-last (4-D only; forward only) */

/* The most dimensions a descriptor holds. */
#define STN_MAX_NDIM 8

/* A tensor: `ndim` sizes in `shape` (the rest unused), dense C-contiguous elements of `dtype`
 * from `data`. Inputs: data may be NULL only when the tensor has no elements. Outputs: the
 * operator writes dtype, ndim and shape; data NULL asks for them only (see above). */
typedef struct stn_tensor {
    void *data;
    int32_t dtype;
    int32_t ndim;
    int64_t shape[STN_MAX_NDIM];
} stn_tensor;

/* grid_sample interpolation modes. */
#define STN_MODE_BILINEAR 0      /* trilinear for 5-D input */
#define STN_MODE_NEAREST  1      /* nearest pixel, halves round to even */
#define STN_MODE_BICUBIC  2      /* Keys cubic, A = -0.75 (4x4); tricubic (4x4x4) for 5-D input */

/* Padding modes: what a sampler reads outside its input. */
#define STN_PADDING_ZEROS      0
#define STN_PADDING_BORDER     1
#define STN_PADDING_REFLECTION 2
#define STN_PADDING_FILL       3  /* zeros padding's taps; outside taps read the fill values */

/* How a sampler (grid_sample, the warps) reads its input.
 * fill: with STN_PADDING_FILL, a 1-D tensor of the compute dtype with 1 value (every channel) or
 * C values (one per channel), all finite; NULL with every other padding.
 * layout: STN_LAYOUT_NCHW or STN_LAYOUT_NHWC, for input and output alike.
 * float32_output: nonzero gives a float32 output for uint8/float16 input (else the input's dtype).
 * Images: the forward functions also take 4-D uint8 and float16 input (STN_UINT8, STN_FLOAT16),
 * with grid/theta/H in float32 (the compute dtype; float64 input computes in float64). Each
 * value is computed as for the float32 image of the same pixels, then stored once: uint8 rounds
 * half to even and saturates to [0, 255] (NaN: 0), float16 rounds to nearest even.
 * Fill padding locates taps exactly as zeros padding does, and every tap outside the input reads
 * the channel's fill value instead of 0 — for bilinear the 4 (trilinear: 8) corners, for nearest
 * the nearest pixel, for bicubic each of the 16 (tricubic: 64) taps. With fill = 0 the results
 * equal zeros padding's bit for bit. Gradients: the input gradient is zeros padding's (fill values
 * are constants); the grid gradient includes the fill values read by outside taps. */
typedef struct stn_sampling {
    int32_t mode;            /* STN_MODE_* */
    int32_t padding;         /* STN_PADDING_* */
    int32_t align_corners;   /* nonzero: -1 and 1 are the centres of the corner pixels */
    const stn_tensor *fill;
    int32_t layout;          /* STN_LAYOUT_* */
    int32_t float32_output;
} stn_sampling;

/* The library reads both structs by these offsets (64-bit platforms). */
#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(offsetof(stn_tensor, shape) == 16 && sizeof(stn_tensor) == 80, "stn_tensor layout");
_Static_assert(offsetof(stn_sampling, fill) == 16 && offsetof(stn_sampling, layout) == 24 &&
               sizeof(stn_sampling) == 32, "stn_sampling layout");
#endif

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

/* grid = affine_grid(theta, size, align_corners). */
int32_t stn_affine_grid(const stn_tensor *theta, const int64_t *size, int32_t size_len,
                        int32_t align_corners, stn_tensor *grid, char *err, size_t err_len);

/* grad_theta (theta's shape) = d(loss)/d(theta) given grad_grid = d(loss)/d(grid). */
int32_t stn_affine_grid_backward(const stn_tensor *grad_grid, const int64_t *size, int32_t size_len,
                                 int32_t align_corners, stn_tensor *grad_theta, char *err,
                                 size_t err_len);

/* ---- grid_sample ---------------------------------------------------------------------------
 * input:  (N, C, H, W) with grid (N, Ho, Wo, 2) -> output (N, C, Ho, Wo), or
 *         (N, C, D, H, W) with grid (N, Do, Ho, Wo, 3) -> output (N, C, Do, Ho, Wo).
 * Grid entries are (x, y[, z]) in normalised coordinates; values outside [-1, 1] are padded
 * according to `sampling->padding`. NaN, +-Inf and huge grid values never read or write out of
 * bounds; see docs/operators.md ("Non-finite and huge grid values") for what they produce.
 * Tricubic sampling (no PyTorch counterpart): STN_MODE_BICUBIC on 5-D input is the separable Keys
 * cubic (A = -0.75) over the 4x4x4 neighbourhood, each tap padded on its axis as 2-D bicubic pads
 * it; the sum runs x innermost, then y, then z.
 */

/* output = grid_sample(input, grid, mode, padding, align_corners). */
int32_t stn_grid_sample(const stn_tensor *input, const stn_tensor *grid, const stn_sampling *sampling,
                        stn_tensor *output, char *err, size_t err_len);

/* Gradients of grid_sample. grad_output has the forward output's shape; grad_input (input's
 * shape) may be NULL, which skips its computation entirely; grad_grid has the grid's shape.
 * The grid gradient of nearest sampling is zero. */
int32_t stn_grid_sample_backward(const stn_tensor *grad_output, const stn_tensor *input,
                                 const stn_tensor *grid, const stn_sampling *sampling,
                                 stn_tensor *grad_input, stn_tensor *grad_grid, char *err,
                                 size_t err_len);

/* ---- fused warps (no PyTorch counterparts) ----------------------------------------------------
 * warp_affine(input, theta, out_size) = grid_sample(input, affine_grid(theta, (N, C, Ho, Wo)))
 * and warp_perspective(input, H, out_size) = grid_sample(input, perspective_grid(H, (N, C, Ho,
 * Wo))), computed in one pass that generates the grid a block of points at a time and never
 * holds it in memory. Outputs and all gradients are bitwise equal to the two-step path's (at
 * every thread count), for every mode, padding (fill included) and align_corners.
 * input: (N, C, H, W), H, W > 0.   theta: (N, 2, 3); H: (N, 3, 3).   out_size: (Ho, Wo), both
 * > 0 (2 entries).   output: (N, C, Ho, Wo).
 * Backward: grad_output has the output's shape; grad_input (input's shape) may be NULL, which
 * skips its computation; grad_theta / grad_h has the matrices' shape.
 */

/* output = grid_sample(input, affine_grid(theta, (N, C, Ho, Wo), align_corners), sampling). */
int32_t stn_warp_affine(const stn_tensor *input, const stn_tensor *theta, const int64_t *out_size,
                        int32_t out_size_len, const stn_sampling *sampling, stn_tensor *output,
                        char *err, size_t err_len);

/* Gradients of stn_warp_affine with respect to input (optional) and theta. */
int32_t stn_warp_affine_backward(const stn_tensor *grad_output, const stn_tensor *input,
                                 const stn_tensor *theta, const int64_t *out_size,
                                 int32_t out_size_len, const stn_sampling *sampling,
                                 stn_tensor *grad_input, stn_tensor *grad_theta, char *err,
                                 size_t err_len);

/* output = grid_sample(input, perspective_grid(H, (N, C, Ho, Wo), align_corners), sampling). */
int32_t stn_warp_perspective(const stn_tensor *input, const stn_tensor *h, const int64_t *out_size,
                             int32_t out_size_len, const stn_sampling *sampling, stn_tensor *output,
                             char *err, size_t err_len);

/* Gradients of stn_warp_perspective with respect to input (optional) and H. */
int32_t stn_warp_perspective_backward(const stn_tensor *grad_output, const stn_tensor *input,
                                      const stn_tensor *h, const int64_t *out_size,
                                      int32_t out_size_len, const stn_sampling *sampling,
                                      stn_tensor *grad_input, stn_tensor *grad_h, char *err,
                                      size_t err_len);

/* ---- perspective_grid ----------------------------------------------------------------------
 * Projective grid generator (no PyTorch counterpart).
 * size: (N, C, H, W), every entry > 0.   H: (N, 3, 3) homographies.   grid: (N, H, W, 2).
 * (u, v, w) = H·(x, y, 1) with (x, y) the output position's normalised base coordinate (exactly
 * affine_grid's), and grid = (u/w, v/w). The division is guarded: a point with
 * w <= 1e-6 * max(|u|, |v|, 1) (behind the projection, mapped through the line at infinity, or a
 * position beyond 1e6) or with a non-finite u, v or w (non-finite or overflowing H entries) gets
 * the sentinel (-1e4, -1e4): finite, and outside the image for every padding mode's purposes
 * (zeros padding reads 0 there). The grid never holds NaN. H and -H are therefore not
 * equivalent: w must be positive where the grid is meant to be valid. An H whose last row is
 * (0, 0, 1) gives affine_grid's grid of its first two rows bit for bit.
 */

/* grid = perspective_grid(H, size, align_corners). */
int32_t stn_perspective_grid(const stn_tensor *h, const int64_t *size, int32_t size_len,
                             int32_t align_corners, stn_tensor *grid, char *err, size_t err_len);

/* grad_H (N, 3, 3) = d(loss)/d(H) given grad_grid (quotient rule); guarded points contribute
 * nothing. */
int32_t stn_perspective_grid_backward(const stn_tensor *grad_grid, const stn_tensor *h,
                                      const int64_t *size, int32_t size_len, int32_t align_corners,
                                      stn_tensor *grad_h, char *err, size_t err_len);

/* ---- tps_grid -------------------------------------------------------------------------------
 * Thin-plate-spline grid generator (no PyTorch counterpart).
 * size: (N, C, H, W).   displacements: (N, K, 2), dtype.   control_points: (K, 2), always
 * float64, C-contiguous.   grid: (N, H, W, 2).
 * The grid is f(p) at every output position's base coordinate p (affine_grid's), f the thin-plate
 * interpolant with f(c_k) = c_k + d_k: f(p) = sum_k w_k U(|p - c_k|^2) + a0 + a1 x + a2 y with
 * U(r^2) = r^2 log(r^2) (U(0) = 0) and sum_k w_k = sum_k w_k c_k = 0. It is computed as
 * grid = p + M d with M ((H*W) x K) solved in double precision, with partial pivoting, once per
 * (control points, H, W, align_corners) and kept in a small LRU cache (8 entries, 256 MiB);
 * zero displacements give affine_grid's identity grid exactly. A non-finite result (non-finite
 * displacements) is written as the sentinel (-1e4, -1e4).
 * Control points: control_points == NULL selects the default points with K taken from
 * displacements (forward only); a descriptor with data NULL and shape (K, 2) selects the default
 * points, K of them; one with data gives the caller's points (K >= 3, at most 4096). The default
 * points are a sqrt(K) x sqrt(K) grid over [-1, 1]^2, row-major with y outer (point i*s + j is
 * (x_j, y_i), x_j = -1 + 2j/(s-1)); K must then be a perfect square >= 4. Duplicate, collinear,
 * non-finite or numerically singular control points are STN_INVALID_ARGUMENT, reported by
 * stn_tps_grid / stn_tps_grid_backward when they compute (a shape query checks shapes only).
 */

/* grid = tps_grid(displacements, size, control_points, align_corners). */
int32_t stn_tps_grid(const stn_tensor *displacements, const stn_tensor *control_points,
                     const int64_t *size, int32_t size_len, int32_t align_corners, stn_tensor *grid,
                     char *err, size_t err_len);

/* grad_displacements (N, K, 2) = d(loss)/d(displacements) = M^T grad_grid (the map is linear, so
 * it does not depend on the displacements). control_points is required: its shape gives K. */
int32_t stn_tps_grid_backward(const stn_tensor *grad_grid, const stn_tensor *control_points,
                              const int64_t *size, int32_t size_len, int32_t align_corners,
                              stn_tensor *grad_displacements, char *err, size_t err_len);

/* ---- networks (the training engine) --------------------------------------------------------
 * A network is built from a textual spec (the Python package's `swiftstn.nn` writes it):
 *   conv(in,out,kh,kw,sh,sw,ph,pw,bias)  maxpool(kh,kw,sh,sw)  relu  flatten  logsoftmax
 *   dropout(p)  dropout2d(p)  linear(in,out,bias)  seq(layer,...)
 *   stn(localization,regressor,align_corners[,transform])  transform: 0 affine (default),
 *       1 attention, 2 similarity, 3 projective, 4 tps; the full grammar: docs/c-abi.md
 * Parameters are float32, stored flat in declaration order (depth first; weight before bias),
 * initialised as PyTorch does (transformer regressors start at the identity). Batches x are
 * float32 tensors (n, *sample_shape); labels are int64 tensors (n,) in [0, classes). Outputs
 * follow the operators' two-call idiom. A network serialises concurrent calls; results do not
 * depend on the thread count.
 * Handles are opaque; free them with the matching *_free function (NULL is ignored).
 */
typedef struct stn_network stn_network;
typedef struct stn_trainer stn_trainer;

/* Builds a network from `spec` with parameters initialised from `seed` into *out (NULL on
 * error); returns the status (STN_INVALID_ARGUMENT for a bad spec, STN_OUT_OF_MEMORY for one
 * over stn_network_get_max_parameters, STN_SIZE_OVERFLOW for counts past 64 bits). */
int32_t stn_network_new(const char *spec, uint64_t seed, stn_network **out, char *err, size_t err_len);
/* The same, returning the network or NULL (the status is lost; prefer stn_network_new). */
stn_network *stn_network_create(const char *spec, uint64_t seed, char *err, size_t err_len);
void stn_network_free(stn_network *net);

/* The largest parameter count stn_network_create accepts (default: a quarter of physical memory
 * in float32 values, at most 2^31). A spec over it fails with STN_OUT_OF_MEMORY before anything
 * is allocated, naming the layer that crosses it. 1 <= n <= half of physical memory in float32
 * values; applies to later creations. */
int32_t stn_network_set_max_parameters(int64_t n, char *err, size_t err_len);
int64_t stn_network_get_max_parameters(void);

/* Total parameter count (floats), number of parameter tensors, and the shape of tensor `index`. */
int64_t stn_network_parameter_count(const stn_network *net);
int32_t stn_network_parameter_tensors(const stn_network *net);
int32_t stn_network_parameter_shape(const stn_network *net, int32_t index, int64_t *out_shape,
                                    int32_t *out_ndim, char *err, size_t err_len);

/* Copies all parameters out of / into the network (flat, parameter_count floats). Setting
 * refuses non-finite values and then changes nothing. */
int32_t stn_network_get_parameters(const stn_network *net, float *dst, char *err, size_t err_len);
int32_t stn_network_set_parameters(stn_network *net, const float *src, char *err, size_t err_len);

/* Per-sample output shape for a per-sample input shape; errors name the layer that refuses it. */
int32_t stn_network_output_shape(stn_network *net, const int64_t *sample_shape, int32_t ndim,
                                 int64_t *out_shape, int32_t *out_ndim, char *err, size_t err_len);

/* out (n, *output_shape) = network(x). training != 0 applies dropout with masks from `seed`. */
int32_t stn_network_forward(stn_network *net, const stn_tensor *x, int32_t training, uint64_t seed,
                            stn_tensor *out, char *err, size_t err_len);

/* The first spatial transformer's output (n, *sample_shape) and theta (n, 2, 3); theta is NaN for
 * projective and TPS transformers, which have none. */
int32_t stn_network_transform(stn_network *net, const stn_tensor *x, stn_tensor *out, stn_tensor *theta,
                              char *err, size_t err_len);

/* Mean loss (NLL if the network ends in logsoftmax, else cross-entropy on its output), the number
 * of correct arg-max predictions, and (if grads != NULL) the gradient of the mean loss for every
 * parameter (parameter_count floats, overwritten). Parameters are not changed. */
int32_t stn_network_loss_and_grad(stn_network *net, const stn_tensor *x, const stn_tensor *labels,
                                  int32_t training, uint64_t seed, double *loss, int64_t *correct,
                                  float *grads, char *err, size_t err_len);

/* Mean loss and accuracy in evaluation mode, computed in batches of batch_size. */
int32_t stn_network_evaluate(stn_network *net, const stn_tensor *x, const stn_tensor *labels,
                             int64_t batch_size, double *loss, double *accuracy, char *err,
                             size_t err_len);

/* A trainer: an optimiser (kind 0 = SGD with momentum/dampening/nesterov/weight_decay,
 * 1 = Adam with beta1/beta2/eps/weight_decay; PyTorch's update rules) bound to a network, and
 * the run's seed (shuffling and dropout masks derive from it). It keeps the network alive. */
stn_trainer *stn_trainer_create(stn_network *net, int32_t kind, double lr, double momentum,
                                double dampening, int32_t nesterov, double weight_decay,
                                double beta1, double beta2, double eps, uint64_t seed,
                                char *err, size_t err_len);
void stn_trainer_free(stn_trainer *trainer);

/* Called between batches: (context, epoch, batches done, batches in the epoch, samples seen,
 * mean loss so far, correct so far). Return 0 to continue, nonzero to stop after this batch. */
typedef int32_t (*stn_progress_fn)(void *context, int32_t epoch, int64_t batch, int64_t batches,
                                   int64_t samples, double mean_loss, int64_t correct);

/* One epoch of training over the n samples of x in batches of batch_size (shuffled with a permutation
 * keyed by the seed and `epoch` when shuffle != 0; dropout active when training != 0). Reports
 * progress every report_every batches.
 * Writes the epoch's mean training loss and accuracy and whether it completed (0 if stopped). */
int32_t stn_trainer_epoch(stn_trainer *trainer, const stn_tensor *x, const stn_tensor *labels,
                          int64_t batch_size, int32_t shuffle, int32_t training, int32_t epoch,
                          int32_t report_every, stn_progress_fn progress, void *context,
                          double *mean_loss, double *accuracy, int32_t *completed, char *err,
                          size_t err_len);

/* The optimiser's state, for checkpoints: lengths of its two buffers (0 or parameter_count:
 * SGD momentum buffers / Adam first moments, and Adam second moments), their contents and its
 * step count. set_state validates the lengths and then replaces the state. */
int32_t stn_trainer_state_size(const stn_trainer *trainer, int64_t *len1, int64_t *len2);
int32_t stn_trainer_get_state(const stn_trainer *trainer, float *state1, float *state2,
                              int64_t *optimizer_steps, char *err, size_t err_len);
int32_t stn_trainer_set_state(stn_trainer *trainer, const float *state1, int64_t len1,
                              const float *state2, int64_t len2, int64_t optimizer_steps,
                              char *err, size_t err_len);

/* Optimisation steps taken (keys the dropout masks). */
uint64_t stn_trainer_get_step(const stn_trainer *trainer);
void stn_trainer_set_step(stn_trainer *trainer, uint64_t step);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTSTN_H */

#!/usr/bin/env python3
"""Generates the golden reference fixtures in python/tests/fixtures/ from PyTorch.

Run it in an environment that has torch (and numpy); the test suite itself never needs torch:

    python python/tools/make_reference.py            # rewrites every fixture
    python python/tools/make_reference.py --check    # regenerates in memory, reports differences

Everything here is the seed's PyTorch code (the blog's `Net`, its `stn()` with
`F.affine_grid`/`F.grid_sample` and `align_corners=True`) or torch.nn.functional called on seeded
random inputs. The fixtures are generated files: do not edit them by hand.

Fixtures
  seed_stn.npz   the blog Net's stn() on MNIST-like digits: input, theta, grid, output
  sampling.npz   affine_grid / grid_sample forward and backward over the cross product
                 2-D/3-D × mode × padding × align_corners × float32/float64 × shapes
  blocks.npz     grid_sample forward and backward on grids of 2×17×29 points (whole 64-point
                 blocks, 16-lane chunks and a tail): a rotated affine grid (taps inside) and a
                 random one (taps across the border), every mode × padding × align_corners;
                 for bicubic also the float64 results on the same values; and 3-D trilinear
                 forward on 135-point grids
  special.npz    grid_sample on NaN / ±Inf / ±1e30 grid values (what PyTorch returns)
  blog_net.npz   the blog Net: weights, a batch, eval-mode log-probabilities, every parameter
                 gradient of the NLL loss, the weights after one SGD step (lr 0.01), and after
                 three steps of SGD with momentum/weight decay, SGD with Nesterov, and Adam
"""
import argparse
import gzip
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "tests", "fixtures")
MNIST = os.path.join(HERE, "..", "..", "..", "shared", "data", "mnist")

MODES = ["bilinear", "nearest", "bicubic"]
PADDINGS = ["zeros", "border", "reflection"]
DTYPES = {"f32": torch.float32, "f64": torch.float64}


# ---- the seed's network, as the blog writes it -------------------------------------------------
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)
        self.flatten = nn.Flatten()
        self.localization = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=7),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
            nn.Conv2d(8, 10, kernel_size=5),
            nn.MaxPool2d(2, stride=2),
            nn.ReLU(True),
        )
        self.fc_loc = nn.Sequential(nn.Linear(10 * 3 * 3, 32), nn.ReLU(True), nn.Linear(32, 3 * 2))
        self.fc_loc[2].weight.data.zero_()
        self.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))

    def stn(self, x):
        xs = self.localization(x)
        xs = self.flatten(xs)
        theta = self.fc_loc(xs)
        theta = theta.view(-1, 2, 3)
        grid = F.affine_grid(theta, x.size(), align_corners=True)
        x = F.grid_sample(x, grid, align_corners=True)
        return x

    def forward(self, x):
        x = self.stn(x)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = self.flatten(x)
        x = F.relu(self.fc1(x))
        x = F.dropout(x, training=self.training)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def digits(n, rng):
    """n MNIST test digits normalised as the seed does, or smooth random blobs without MNIST."""
    path = os.path.join(MNIST, "t10k-images-idx3-ubyte.gz")
    if os.path.exists(path):
        images = read_idx(path)[:n].astype(np.float32) / 255.0
        labels = read_idx(os.path.join(MNIST, "t10k-labels-idx1-ubyte.gz"))[:n].astype(np.int64)
    else:
        images = rng.random((n, 28, 28), dtype=np.float32)
        labels = rng.integers(0, 10, n)
    x = ((images - 0.1307) / 0.3081).astype(np.float32)[:, None]
    return x, labels


def perturbed_net(seed):
    """The blog Net with seeded PyTorch init and a non-identity regressor output layer, so the
    transformer does something and every gradient is non-zero."""
    torch.manual_seed(seed)
    net = Net()
    with torch.no_grad():
        net.fc_loc[2].weight.normal_(0.0, 0.02)
        net.fc_loc[2].bias.add_(torch.tensor([0.05, -0.1, 0.08, 0.12, -0.07, -0.04]))
    return net


def seed_stn(rng):
    net = perturbed_net(0).eval()
    x, _ = digits(8, rng)
    xt = torch.from_numpy(x)
    out = {"input": x}
    with torch.no_grad():
        theta = net.fc_loc(net.flatten(net.localization(xt))).view(-1, 2, 3)
        out["theta"] = theta.numpy()
        for ac in (True, False):
            grid = F.affine_grid(theta, xt.size(), align_corners=ac)
            out[f"grid_ac{int(ac)}"] = grid.numpy()
            out[f"output_ac{int(ac)}"] = F.grid_sample(xt, grid, align_corners=ac).numpy()
        out["stn_output"] = net.stn(xt).numpy()
    return out


def grid_values(shape, rng, dtype):
    """Grid points mostly in [-1.25, 1.25], with some exactly on -1, 0, 1 and on pixel centres."""
    g = rng.uniform(-1.25, 1.25, size=shape)
    flat = g.reshape(-1)
    k = flat.size
    idx = rng.choice(k, size=max(1, k // 6), replace=False)
    flat[idx] = rng.choice([-1.0, 0.0, 1.0, -0.5, 0.5], size=idx.size)
    return g.astype(dtype)


def sampling(rng):
    out = {}
    shapes2d = {"a": ((2, 3, 5, 7), (2, 4, 6, 2)), "b": ((1, 1, 6, 4), (1, 7, 3, 2))}
    shapes3d = {"a": ((2, 2, 3, 4, 5), (2, 2, 3, 4, 3)), "b": ((1, 1, 4, 2, 3), (1, 3, 2, 2, 3))}
    for dname, _tdtype in DTYPES.items():
        npdtype = np.float32 if dname == "f32" else np.float64
        for dim, shapes in (("2d", shapes2d), ("3d", shapes3d)):
            for sname, (ishape, gshape) in shapes.items():
                x = rng.standard_normal(ishape).astype(npdtype)
                g = grid_values(gshape, rng, npdtype)
                for mode in MODES:
                    if dim == "3d" and mode == "bicubic":
                        continue
                    for pad in PADDINGS:
                        for ac in (0, 1):
                            key = f"gs{dim}_{mode}_{pad}_ac{ac}_{dname}_{sname}"
                            xt = torch.tensor(x, requires_grad=True)
                            gt = torch.tensor(g, requires_grad=True)
                            y = F.grid_sample(xt, gt, mode=mode, padding_mode=pad, align_corners=bool(ac))
                            go = rng.standard_normal(y.shape).astype(npdtype)
                            y.backward(torch.tensor(go))
                            out[key + "__input"] = x
                            out[key + "__grid"] = g
                            out[key + "__output"] = y.detach().numpy()
                            out[key + "__grad_output"] = go
                            out[key + "__grad_input"] = xt.grad.numpy()
                            out[key + "__grad_grid"] = gt.grad.numpy()
        # affine_grid, 2-D and 3-D, including degenerate 1-pixel axes
        for sname, size in {"a": (2, 3, 5, 7), "b": (1, 1, 1, 4), "c": (3, 2, 6, 1),
                            "d": (2, 2, 3, 4, 5), "e": (1, 1, 1, 3, 2)}.items():
            rows = 2 if len(size) == 4 else 3
            theta = rng.standard_normal((size[0], rows, rows + 1)).astype(npdtype)
            for ac in (0, 1):
                key = f"ag_{sname}_ac{ac}_{dname}"
                tt = torch.tensor(theta, requires_grad=True)
                grid = F.affine_grid(tt, list(size), align_corners=bool(ac))
                gg = rng.standard_normal(grid.shape).astype(npdtype)
                grid.backward(torch.tensor(gg))
                out[key + "__theta"] = theta
                out[key + "__size"] = np.array(size, dtype=np.int64)
                out[key + "__grid"] = grid.detach().numpy()
                out[key + "__grad_grid"] = gg
                out[key + "__grad_theta"] = tt.grad.numpy()
    return out


def blocks(rng):
    """Grids big enough for the samplers' vector paths (blocks of 64 points read 16 at a time)."""
    out = {}
    x = rng.standard_normal((2, 3, 23, 25))
    theta = np.array([[[0.8, -0.25, 0.05], [0.2, 0.85, -0.1]], [[0.6, 0.1, -0.2], [-0.1, 0.7, 0.15]]])
    for dname, npdtype in (("f32", np.float32), ("f64", np.float64)):
        xd = x.astype(npdtype)
        grids = {"rot": F.affine_grid(torch.tensor(theta.astype(npdtype)), [2, 3, 17, 29], align_corners=False).numpy(),
                 "rand": rng.uniform(-1.1, 1.1, size=(2, 17, 29, 2)).astype(npdtype)}
        for gname, g in grids.items():
            for mode in MODES:
                if dname == "f64" and mode != "bilinear":
                    continue
                for pad in PADDINGS:
                    for ac in (0, 1):
                        key = f"bk_{mode}_{pad}_ac{ac}_{dname}_{gname}"
                        xt = torch.tensor(xd, requires_grad=True)
                        gt = torch.tensor(g, requires_grad=True)
                        y = F.grid_sample(xt, gt, mode=mode, padding_mode=pad, align_corners=bool(ac))
                        go = rng.standard_normal(y.shape).astype(npdtype)
                        y.backward(torch.tensor(go))
                        out[key + "__output"] = y.detach().numpy()
                        out[key + "__grad_output"] = go
                        out[key + "__grad_input"] = xt.grad.numpy()
                        out[key + "__grad_grid"] = gt.grad.numpy()
                        if mode == "bicubic":
                            # The float64 result on the same values: bicubic gradients cancel
                            # strongly, and PyTorch's own float32 result can be 1e-4 away from it.
                            xt = torch.tensor(xd.astype(np.float64), requires_grad=True)
                            gt = torch.tensor(g.astype(np.float64), requires_grad=True)
                            y = F.grid_sample(xt, gt, mode=mode, padding_mode=pad, align_corners=bool(ac))
                            y.backward(torch.tensor(go.astype(np.float64)))
                            out[key + "__output_f64"] = y.detach().numpy()
                            out[key + "__grad_input_f64"] = xt.grad.numpy()
                            out[key + "__grad_grid_f64"] = gt.grad.numpy()
            out[f"grid_{dname}_{gname}"] = g
        out[f"input_{dname}"] = xd
    # 3-D trilinear forward on 2×3×5×9 = 135 points per element (two 64-point blocks and a tail).
    x3 = rng.standard_normal((2, 2, 5, 6, 7))
    theta3 = np.array([[0.8, -0.2, 0.05, 0.05], [0.2, 0.8, 0.0, -0.1], [0.0, 0.1, 0.9, 0.02]])
    for dname, npdtype in (("f32", np.float32), ("f64", np.float64)):
        xd = x3.astype(npdtype)
        grids = {"rot": F.affine_grid(torch.tensor(np.tile(theta3, (2, 1, 1)).astype(npdtype)), [2, 2, 3, 5, 9],
                                      align_corners=False).numpy(),
                 "rand": rng.uniform(-1.1, 1.1, size=(2, 3, 5, 9, 3)).astype(npdtype)}
        for gname, g in grids.items():
            for pad in PADDINGS:
                for ac in (0, 1):
                    y = F.grid_sample(torch.tensor(xd), torch.tensor(g), mode="bilinear", padding_mode=pad,
                                      align_corners=bool(ac))
                    out[f"bk3d_bilinear_{pad}_ac{ac}_{dname}_{gname}__output"] = y.numpy()
            out[f"grid3d_{dname}_{gname}"] = g
        out[f"input3d_{dname}"] = xd
    return out


def special(rng):
    out = {}
    values = np.array([np.nan, np.inf, -np.inf, 1e30, -1e30, 3e9, -3e9, 1.0, -1.0], dtype=np.float64)
    for dname in DTYPES:
        npdtype = np.float32 if dname == "f32" else np.float64
        for dim in ("2d", "3d"):
            k = 2 if dim == "2d" else 3
            ishape = (1, 2, 4, 5) if dim == "2d" else (1, 2, 3, 4, 5)
            x = rng.standard_normal(ishape).astype(npdtype)
            # every special value in every coordinate slot, others ordinary
            pts = []
            for v in values:
                for slot in range(k):
                    p = rng.uniform(-0.9, 0.9, size=k)
                    p[slot] = v
                    pts.append(p)
            g = np.array(pts, dtype=npdtype).reshape((1, 1, len(pts), k) if dim == "2d" else (1, 1, 1, len(pts), k))
            for mode in MODES:
                if dim == "3d" and mode == "bicubic":
                    continue
                for pad in PADDINGS:
                    for ac in (0, 1):
                        key = f"sp{dim}_{mode}_{pad}_ac{ac}_{dname}"
                        y = F.grid_sample(torch.tensor(x), torch.tensor(g), mode=mode, padding_mode=pad,
                                          align_corners=bool(ac))
                        out[key + "__input"] = x
                        out[key + "__grid"] = g
                        out[key + "__output"] = y.numpy()
    return out


def blog_net(rng):
    net = perturbed_net(1)
    x, y = digits(16, rng)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    out = {"input": x, "target": y}
    for name, p in net.state_dict().items():
        out["weights__" + name] = p.detach().numpy().copy()
    net.eval()
    logp = net(xt)
    out["logp_eval"] = logp.detach().numpy()
    loss = F.nll_loss(logp, yt)
    out["loss_eval"] = np.array(loss.item(), dtype=np.float64)
    loss.backward()
    for name, p in net.named_parameters():
        out["grad__" + name] = p.grad.numpy().copy()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    opt.step()
    for name, p in net.state_dict().items():
        out["sgd_step__" + name] = p.detach().numpy().copy()
    # Three steps of each optimiser configuration from the same start, eval mode (no dropout).
    configs = {
        "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=0.01, momentum=0.9, weight_decay=1e-3),
        "sgd_nesterov": lambda ps: torch.optim.SGD(ps, lr=0.02, momentum=0.8, nesterov=True),
        "adam": lambda ps: torch.optim.Adam(ps, lr=1e-3, weight_decay=1e-4),
    }
    for cname, make in configs.items():
        net.load_state_dict({k[len("weights__"):]: torch.from_numpy(v) for k, v in out.items()
                             if k.startswith("weights__")})
        net.eval()
        opt = make(net.parameters())
        for _ in range(3):
            opt.zero_grad()
            F.nll_loss(net(xt), yt).backward()
            opt.step()
        for name, p in net.state_dict().items():
            out[f"{cname}3__" + name] = p.detach().numpy().copy()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the committed fixtures, write nothing")
    args = ap.parse_args()
    torch.set_num_threads(1)
    meta = {"torch_version": np.array(torch.__version__), "numpy_version": np.array(np.__version__)}
    makers = {"seed_stn": seed_stn, "sampling": sampling, "blocks": blocks, "special": special,
              "blog_net": blog_net}
    os.makedirs(FIXTURES, exist_ok=True)
    status = 0
    for name, maker in makers.items():
        data = maker(np.random.default_rng(sum(map(ord, name))))  # fixed seed per fixture
        data.update({"meta__" + k: v for k, v in meta.items()})
        path = os.path.join(FIXTURES, name + ".npz")
        if args.check:
            old = np.load(path)
            bad = [k for k in data if not k.startswith("meta__") and
                   (k not in old or not np.array_equal(old[k], data[k], equal_nan=True))]
            print(f"{name}: {'OK' if not bad else 'differs in ' + ', '.join(bad[:5])}")
            status |= bool(bad)
        else:
            np.savez_compressed(path, **data)
            print(f"wrote {path} ({os.path.getsize(path) // 1024} KiB, {len(data)} arrays)")
    return status


if __name__ == "__main__":
    sys.exit(main())

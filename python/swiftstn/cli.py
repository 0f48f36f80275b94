"""The ``swiftstn`` command: train, evaluate, visualise and export spatial transformer networks.

    swiftstn demo                       # the first run: a working STN in ~30 s and its picture
    swiftstn train                      # the seed's recipe on the embedded MNIST subset, offline
    swiftstn train --data ~/mnist --epochs 20 --checkpoint stn.ckpt
    swiftstn train --data ~/mnist --epochs 40 --checkpoint stn.ckpt --resume
    swiftstn evaluate --checkpoint stn.ckpt --data ~/mnist --json
    swiftstn visualize --checkpoint stn.ckpt --out stn.png
    swiftstn export --checkpoint stn.ckpt --out stn.safetensors
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import checkpoint as ckpt
from . import datasets, get_num_threads, models, set_num_threads

__all__ = ["main", "parser", "UsageError"]

DATASETS = ("mnist", "fashion-mnist")


class UsageError(Exception):
    """A problem the user can fix; printed as one line."""


def _int_at_least(minimum: int, word: str) -> Callable[[str], int]:
    """An argparse type: an int ≥ `minimum`, called `word` ("positive") in its message."""
    def parse(v: str) -> int:
        try:
            n = int(v)
        except ValueError:
            n = minimum - 1
        if n < minimum:
            raise argparse.ArgumentTypeError(f"expected a {word} integer, got {v!r}")
        return n
    return parse


_positive_int = _int_at_least(1, "positive")
_non_negative_int = _int_at_least(0, "non-negative")


def _non_negative_float(v: str) -> float:
    try:
        x = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {v!r}") from None
    if not np.isfinite(x) or x < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {v!r}")
    return x


def load_data(data: str | None, dataset: str, split: str, download: bool = False
              ) -> tuple[NDArray[np.float32], NDArray[np.int64], str]:
    """(x, y, description) for a split; without a data folder, the embedded MNIST subset."""
    if data is None:
        if dataset != "mnist":
            raise UsageError(f"--dataset {dataset} needs --data DIR (only an MNIST subset is embedded)")
        x, y = datasets.embedded_mnist(split)
        return x, y, "embedded MNIST subset"
    if not download and not os.path.isdir(data):
        raise UsageError(f"data folder {data} does not exist")
    loader = datasets.mnist if dataset == "mnist" else datasets.fashion_mnist
    x, y = loader(data, split, download=download)
    return x, y, f"{dataset} from {data}"


def normalisation(dataset: str) -> tuple[float, float]:
    """(mean, std) of ``dataset``'s normalisation (MNIST's unless it is "fashion-mnist")."""
    if dataset == "fashion-mnist":
        return datasets.FASHION_MNIST_MEAN, datasets.FASHION_MNIST_STD
    return datasets.MNIST_MEAN, datasets.MNIST_STD


def cmd_train(args: argparse.Namespace) -> int:
    """``swiftstn train``: the seed's training run (checkpointed, resumable); returns 0."""
    if args.threads:
        set_num_threads(args.threads)
    if args.resume and not args.checkpoint:
        raise UsageError("--resume needs --checkpoint PATH")
    model = models.blog_net(seed=args.seed)
    start_epoch, seed = 0, args.seed
    history: dict[str, list[Any]] = {}
    if args.resume and os.path.exists(args.checkpoint):
        c = ckpt.load(args.checkpoint)
        c.restore(model)
        start_epoch, history = c.epoch, c.meta.get("history", {})
        seed = c.meta["seed"]
        saved = c.meta.get("dataset") or {}
        if args.data is None and saved.get("data"):
            args.data = saved["data"]
        if args.dataset is None:
            args.dataset = saved.get("name", "mnist")
        o = c.meta["optimizer"] or {}
        args.optimizer, args.lr, args.momentum = (o.get("name", args.optimizer), o.get("lr", args.lr),
                                                  o.get("momentum", args.momentum))
    elif args.resume:
        print(f"swiftstn: {args.checkpoint} does not exist yet; starting a new run", file=sys.stderr)
    args.dataset = args.dataset or "mnist"
    x, y, desc = load_data(args.data, args.dataset, "train", args.download)
    xt, yt, _ = load_data(args.data, args.dataset, "test", False)
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little")
    if not args.json:
        print(f"swiftstn: training the STN tutorial network on {desc} ({len(x):,} train / {len(xt):,} test images), "
              f"{args.optimizer} lr {args.lr}, batch {args.batch_size}, {get_num_threads()} threads, seed {seed}",
              file=sys.stderr)
    if start_epoch >= args.epochs:
        print(f"swiftstn: checkpoint is already at epoch {start_epoch} of {args.epochs}; nothing to do",
              file=sys.stderr)
    for epoch in range(start_epoch + 1, args.epochs + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # divergence is reported below, as an error
            h = model.fit(x, y, epochs=1, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                          momentum=args.momentum, seed=seed,
                          progress=not args.json and sys.stderr.isatty() or args.progress, validation_data=(xt, yt))
        if not np.isfinite(h["train_loss"][0]):
            raise UsageError(f"training diverged in epoch {epoch} (loss {h['train_loss'][0]}); "
                             "try a lower --lr"
                             + ("" if not args.checkpoint else "; the last checkpoint is the previous epoch's"))
        record = {"epoch": epoch, "train_loss": h["train_loss"][0], "train_accuracy": h["train_accuracy"][0],
                  "test_loss": h["val_loss"][0], "test_accuracy": h["val_accuracy"][0],
                  "train_seconds": h["seconds"][0], "images_per_second": h["images_per_second"][0]}
        for k, v in record.items():
            history.setdefault(k, []).append(v)
        if args.checkpoint:
            ckpt.save(args.checkpoint, model, epoch=epoch,
                      dataset={"name": args.dataset, "data": os.path.abspath(args.data) if args.data else None},
                      history=history)
        if args.json:
            print(json.dumps(record), flush=True)
        else:
            print(f"epoch {epoch}/{args.epochs}  train loss {record['train_loss']:.4f}  "
                  f"test loss {record['test_loss']:.4f}  test accuracy {100 * record['test_accuracy']:.2f}%  "
                  f"{record['train_seconds']:.1f} s  {record['images_per_second']:,.0f} images/s", flush=True)
    return 0


#: the demo's recipe: the seed's network and batch with Adam, so that the 5,000 embedded digits give
#: a working transformer in seconds (≥ 95 % from epoch ~7 for seeds 0 and 1, 96.8–97.2 % after 15;
#: SGD with momentum 0.9 swung between 54 and 96 % from epoch to epoch)
DEMO_RECIPE = {"epochs": 15, "batch_size": 64, "lr": 0.001, "momentum": 0.0, "optimizer": "adam"}


def cmd_demo(args: argparse.Namespace) -> int:
    """``swiftstn demo``: the first run. Trains the seed's network on the embedded MNIST subset,
    prints the test accuracy, writes the seed's side-by-side picture and says what to run next."""
    import time

    from . import viz
    if args.threads:
        set_num_threads(args.threads)
    x, y = datasets.embedded_mnist("train")
    xt, yt = datasets.embedded_mnist("test")
    recipe = dict(DEMO_RECIPE, epochs=args.epochs)
    print(f"swiftstn demo: training the STN tutorial network (a spatial transformer in front of a small CNN) on "
          f"the {len(x):,} MNIST digits embedded in the package: {recipe['epochs']} epochs, Adam lr {recipe['lr']}, "
          f"batch {recipe['batch_size']}, {get_num_threads()} threads", flush=True)
    model = models.blog_net(seed=args.seed)
    start = time.perf_counter()
    for epoch in range(1, recipe["epochs"] + 1):
        h = model.fit(x, y, epochs=1, batch_size=recipe["batch_size"], lr=recipe["lr"], optimizer=recipe["optimizer"],
                      momentum=recipe["momentum"], seed=args.seed, progress=False, validation_data=(xt, yt))
        print(f"  epoch {epoch:2d}/{recipe['epochs']}  train loss {h['train_loss'][0]:.4f}  "
              f"test accuracy {100 * h['val_accuracy'][0]:.2f}%", flush=True)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(xt, yt)
    viz.write_png(args.out, viz.side_by_side(model, xt[:64]))
    print(f"\ntrained in {seconds:.1f} s: test accuracy {100 * accuracy:.2f}% on the {len(xt):,} embedded test digits")
    print(f"wrote {os.path.abspath(args.out)}: 64 test digits (left) and the same digits after the learned spatial "
          "transformer (right), the seed's picture")
    print("\nnext, the seed's full experiment on all of MNIST (60,000 digits, 20 epochs, ~99 %):\n"
          "  swiftstn train --data ~/mnist --download --epochs 20 --checkpoint stn.ckpt\n"
          "  swiftstn visualize --checkpoint stn.ckpt --out stn.png      # needs matplotlib")
    return 0


def _model_from_checkpoint(path: str) -> tuple[models.BlogNet, ckpt.Checkpoint]:
    c = ckpt.load(path)
    model = models.blog_net(seed=0)
    c.restore(model, with_optimizer=False)
    return model.eval(), c


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``swiftstn evaluate``: a checkpoint's test loss and accuracy; returns 0."""
    model, c = _model_from_checkpoint(args.checkpoint)
    saved = c.meta.get("dataset") or {}
    dataset = args.dataset or saved.get("name", "mnist")
    data = args.data if args.data is not None else saved.get("data")
    x, y, desc = load_data(data, dataset, "test")
    loss, acc = model.evaluate(x, y)
    result = {"checkpoint": args.checkpoint, "epoch": c.epoch, "dataset": desc, "test_loss": loss,
              "test_accuracy": acc, "images": len(x)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{desc}: test loss {loss:.4f}, accuracy {100 * acc:.2f}% on {len(x):,} images (epoch {c.epoch})")
    return 0


def cmd_visualize(args: argparse.Namespace) -> int:
    """``swiftstn visualize``: the seed's before/after picture as a PNG; returns 0."""
    try:
        from . import viz
        viz._plt()
    except ImportError as e:
        raise UsageError(str(e)) from None
    model, c = _model_from_checkpoint(args.checkpoint)
    saved = c.meta.get("dataset") or {}
    dataset = args.dataset or saved.get("name", "mnist")
    data = args.data if args.data is not None else saved.get("data")
    x, _, _ = load_data(data, dataset, "test")
    mean, std = normalisation(dataset)
    fig = viz.visualize_stn(model, x[:args.count], mean=mean, std=std)
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """``swiftstn export``: a checkpoint's weights as a PyTorch-loadable state dict; returns 0."""
    c = ckpt.load(args.checkpoint)
    ckpt.export_state_dict(args.out, c)
    print(f"wrote {args.out} ({len(c.params)} tensors; load with "
          f"{'torch.load' if args.out.endswith(('.pt', '.pth')) else 'safetensors.torch.load_file'})")
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line parser of ``swiftstn`` (subcommands demo, train, evaluate, visualize, export)."""
    p = argparse.ArgumentParser(prog="swiftstn", description="Spatial Transformer Networks on a fast Swift engine.")
    sub = p.add_subparsers(dest="command", required=True)

    d = sub.add_parser("demo", help="the first run: train on the embedded digits (~30 s), write the picture")
    d.add_argument("--out", default="stn_demo.png", help="PNG file for the picture (default: stn_demo.png)")
    d.add_argument("--epochs", type=_positive_int, default=DEMO_RECIPE["epochs"])
    d.add_argument("--seed", type=_non_negative_int, default=0)
    d.add_argument("--threads", type=_positive_int, default=None)
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="train the STN tutorial network (the seed's recipe by default)")
    t.add_argument("--data", help="folder with the IDX files (default: the embedded MNIST subset)")
    t.add_argument("--dataset", choices=DATASETS, default=None, help="default: mnist")
    t.add_argument("--download", action="store_true", help="download missing files into --data first")
    t.add_argument("--epochs", type=_non_negative_int, default=20)
    t.add_argument("--batch-size", type=_positive_int, default=64)
    t.add_argument("--lr", type=_non_negative_float, default=0.01)
    t.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    t.add_argument("--momentum", type=_non_negative_float, default=0.0)
    t.add_argument("--seed", type=_non_negative_int, default=None, help="fixes initialisation, shuffling and dropout")
    t.add_argument("--threads", type=_positive_int, default=None)
    t.add_argument("--checkpoint", help="save after every epoch (atomically) to this file")
    t.add_argument("--resume", action="store_true", help="continue from --checkpoint up to --epochs")
    t.add_argument("--json", action="store_true", help="print one JSON object per epoch instead of text")
    t.add_argument("--progress", action="store_true", help="show progress bars even when stderr is not a terminal")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="test loss and accuracy of a checkpoint")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--data")
    e.add_argument("--dataset", choices=DATASETS)
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=cmd_evaluate)

    v = sub.add_parser("visualize", help="the seed's picture: test digits before and after the transformer")
    v.add_argument("--checkpoint", required=True)
    v.add_argument("--out", required=True, help="PNG file to write")
    v.add_argument("--data")
    v.add_argument("--dataset", choices=DATASETS)
    v.add_argument("--count", type=_positive_int, default=64)
    v.set_defaults(func=cmd_visualize)

    x = sub.add_parser("export", help="write a checkpoint's weights as a PyTorch-loadable state dict")
    x.add_argument("--checkpoint", required=True)
    x.add_argument("--out", required=True, help=".safetensors (no dependencies) or .pt (needs torch)")
    x.set_defaults(func=cmd_export)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``swiftstn`` command with ``argv`` (default: ``sys.argv[1:]``); returns the exit
    status: 0, 1 for an error (printed as one line) or 130 when interrupted."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("swiftstn: interrupted", file=sys.stderr)
        return 130
    except (UsageError, ckpt.CheckpointError, datasets.IDXError, datasets.DownloadError, FileNotFoundError,
            ValueError, TypeError, KeyError, ImportError, OSError) as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"swiftstn: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

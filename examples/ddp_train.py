#!/usr/bin/env python3
"""Data-parallel training of the blog's spatial-transformer Net with swiftstn's sampler, over
PyTorch's DistributedDataParallel (gloo backend, CPU): the way to train on a cluster.

One machine, two processes:

    torchrun --standalone --nproc_per_node 2 examples/ddp_train.py --epochs 1

Several machines (run on each, NODE_RANK = 0 … N−1; MASTER = the address of node 0, reachable
from the others on PORT):

    torchrun --nnodes N --node_rank NODE_RANK --nproc_per_node 2 \\
             --rdzv_backend c10d --rdzv_endpoint MASTER:PORT examples/ddp_train.py --epochs 20

Each process computes its shard of every batch (DistributedSampler) with swiftstn's affine_grid
and grid_sample inside PyTorch's autograd; DDP averages the gradients, so every rank holds the
same weights after each step. Set --threads to the cores per process (cores / processes per node).
Data: real MNIST from --data (IDX files, e.g. ../shared/data/mnist) or the digits embedded in
swiftstn. With --out, rank 0 writes the losses and the largest weight difference between ranks
as JSON (the test suite checks both).
"""
import argparse
import json

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

import swiftstn
import swiftstn.torch as st


class Net(nn.Module):
    """The seed's network (the PyTorch STN tutorial's), its sampler swiftstn's."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.conv2_drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, 10)
        self.localization = nn.Sequential(
            nn.Conv2d(1, 8, kernel_size=7), nn.MaxPool2d(2, stride=2), nn.ReLU(True),
            nn.Conv2d(8, 10, kernel_size=5), nn.MaxPool2d(2, stride=2), nn.ReLU(True))
        self.fc_loc = nn.Sequential(nn.Linear(10 * 3 * 3, 32), nn.ReLU(True), nn.Linear(32, 3 * 2))
        self.fc_loc[2].weight.data.zero_()
        self.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))

    def stn(self, x):
        theta = self.fc_loc(self.localization(x).flatten(1)).view(-1, 2, 3)
        grid = st.affine_grid(theta, x.size(), align_corners=True)
        return st.grid_sample(x, grid, align_corners=True)

    def forward(self, x):
        x = self.stn(x)
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        x = F.dropout(x, training=self.training)
        return F.log_softmax(self.fc2(x), dim=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder with MNIST's IDX files (default: swiftstn's embedded digits)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: whole epochs)")
    parser.add_argument("--batch-size", type=int, default=64, help="global batch, split over the processes")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--threads", type=int, default=1, help="threads per process (swiftstn and PyTorch)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="rank 0 writes losses and the ranks' largest weight difference here")
    args = parser.parse_args()

    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(args.threads)
    swiftstn.set_num_threads(args.threads)
    torch.manual_seed(args.seed)  # same initial weights everywhere (DDP also broadcasts rank 0's)

    x, y = swiftstn.datasets.mnist(args.data, "train") if args.data else swiftstn.datasets.embedded_mnist("train")
    data = TensorDataset(torch.from_numpy(x), torch.from_numpy(y.astype("int64")))
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(data, batch_size=args.batch_size // world, sampler=sampler, drop_last=True)

    model = DistributedDataParallel(Net())
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    losses, step = [], 0
    for epoch in range(1, args.epochs + 1):
        sampler.set_epoch(epoch)
        model.train()
        for data_batch, target in loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(data_batch), target)
            loss.backward()
            optimizer.step()
            mean = loss.detach().clone()
            dist.all_reduce(mean)
            losses.append(mean.item() / world)
            step += 1
            if rank == 0 and step % 50 == 0:
                print(f"epoch {epoch} step {step}: loss {losses[-1]:.4f}", flush=True)
            if args.steps and step >= args.steps:
                break
        if args.steps and step >= args.steps:
            break

    # Every rank's weights, compared on rank 0: DDP keeps them identical.
    flat = torch.cat([p.detach().reshape(-1) for p in model.module.parameters()])
    gathered = [torch.empty_like(flat) for _ in range(world)]
    dist.all_gather(gathered, flat)
    if rank == 0:
        diff = max(float((g - gathered[0]).abs().max()) for g in gathered)
        print(f"{step} steps on {world} processes; loss {losses[0]:.4f} -> {losses[-1]:.4f}; "
              f"largest weight difference between ranks: {diff}")
        if args.out:
            with open(args.out, "w") as f:
                json.dump({"world_size": world, "steps": step, "losses": losses, "max_weight_difference": diff}, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()

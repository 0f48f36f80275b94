"""Ready-made models: the seed's network (the PyTorch STN tutorial's ``Net``) and its classifier,
optionally behind a constrained spatial transformer."""
from __future__ import annotations

from . import nn

__all__ = ["BlogNet", "blog_net", "seed_cnn"]


class BlogNet(nn._Composite):
    """The seed's network (the PyTorch STN tutorial's ``Net``), layer for layer, with PyTorch's
    parameter names: a spatial transformer (localisation net + ``fc_loc`` regressor,
    ``align_corners=True``) in front of a small CNN classifier ending in log_softmax."""

    def __init__(self) -> None:
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

    def layers(self) -> list[nn.Module]:
        """The tutorial's ``forward()``, as layers."""
        # forward(): x = stn(x); relu(max_pool2d(conv1(x), 2)); relu(max_pool2d(conv2_drop(conv2(x)), 2));
        # flatten; relu(fc1(x)); dropout(x); fc2(x); log_softmax(x, dim=1)
        stn = nn.SpatialTransformer(self.localization, self.fc_loc, align_corners=True)
        return [stn, self.conv1, nn.MaxPool2d(2), nn.ReLU(), self.conv2, self.conv2_drop, nn.MaxPool2d(2), nn.ReLU(),
                self.flatten, self.fc1, nn.ReLU(), nn.Dropout(0.5), self.fc2, nn.LogSoftmax(dim=1)]


def blog_net(seed: int | None = None) -> BlogNet:
    """The seed's ``Net``; parameters initialised as PyTorch does, from ``seed`` (random if None)."""
    return BlogNet().build(seed)


def _after(size: int, kernel: int, pool: int = 2) -> int:
    return (size - kernel + 1) // pool


def seed_cnn(input_size: int = 28, transform: str | None = None, align_corners: bool = True, classes: int = 10,
             seed: int | None = None) -> nn.Sequential:
    """The seed's classifier (conv 10@5×5, pool, conv 20@5×5, dropout2d, pool, fc 50, dropout,
    fc) for square single-channel inputs of ``input_size``, optionally behind the seed's spatial
    transformer (same localisation net and regressor, sized for the input) constrained to
    ``transform`` ("affine", "attention", "similarity", …; None for the plain CNN)."""
    features = 20 * _after(_after(input_size, 5), 5) ** 2
    layers: list[nn.Module] = []
    if transform is not None:
        loc_features = 10 * _after(_after(input_size, 7), 5) ** 2
        outputs = nn.SpatialTransformer.TRANSFORMS[transform][1]
        layers.append(nn.SpatialTransformer(
            nn.Sequential(nn.Conv2d(1, 8, 7), nn.MaxPool2d(2, stride=2), nn.ReLU(True),
                          nn.Conv2d(8, 10, 5), nn.MaxPool2d(2, stride=2), nn.ReLU(True)),
            nn.Sequential(nn.Linear(loc_features, 32), nn.ReLU(True), nn.Linear(32, outputs)),
            align_corners=align_corners, transform=transform))
    layers += [nn.Conv2d(1, 10, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Conv2d(10, 20, 5), nn.Dropout2d(),
               nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(features, 50), nn.ReLU(), nn.Dropout(0.5),
               nn.Linear(50, classes), nn.LogSoftmax(dim=1)]
    return nn.Sequential(*layers).build(seed)

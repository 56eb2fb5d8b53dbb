"""The networks: the report's CNN and segmentation net, and stronger ones."""
from __future__ import annotations

import torch
from torch import nn


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class ReportCNN(nn.Module):
    """The report's classifier: [Conv3x3 -> ReLU -> MaxPool] x 2 -> FC -> ReLU -> FC.

    Input ``(N, 1, 28, 28)``; output class scores (logits) ``(N, 10)``.
    Unpadded 3x3 convolutions: 28 -> 26 -> pool 13 -> 11 -> pool 5.
    """

    def __init__(self, num_classes: int = 10, hidden: int = 128):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=3), nn.ReLU(), nn.MaxPool2d(2),   # (N, 32, 13, 13)
            nn.Conv2d(32, 64, kernel_size=3), nn.ReLU(), nn.MaxPool2d(2),  # (N, 64, 5, 5)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 5 * 5, hidden), nn.ReLU(), nn.Linear(hidden, num_classes),
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(X))


class ReportSegNet(nn.Module):
    """The report's encoder-decoder for segmentation, layer for layer.

    Input ``(N, 3, H, W)`` with H, W divisible by 4; output per-pixel class scores
    ``(N, n_class, H, W)``. The report lists the second BatchNorm as
    ``BatchNorm2d(32)`` after a 64-channel convolution, which cannot run; it is 64 here.
    """

    def __init__(self, n_class: int = 5):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=1, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),                                                 # H/2
            nn.Conv2d(32, 64, 3, stride=1, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2),                                                 # H/4
            nn.Conv2d(64, 64, 3, stride=1, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, 64, 2, stride=2, padding=0),              # H/2
            nn.Conv2d(64, 32, 3, stride=1, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.ConvTranspose2d(32, 32, 2, stride=2, padding=0),              # H
            nn.Conv2d(32, n_class, 3, stride=1, padding=1),
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.layers(X)

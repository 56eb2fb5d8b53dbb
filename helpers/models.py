"""The networks: the report's CNN and segmentation net, and stronger ones."""
from __future__ import annotations

import torch
from torch import nn


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def check_size(model: nn.Module, X: torch.Tensor, multiple: int) -> None:
    """Raise a ValueError naming the size ``model`` needs unless ``X``'s height and
    width are multiples of ``multiple`` (each pooling halves them, each upsampling
    doubles them back: an odd size would come back one pixel short)."""
    if X.dim() != 4:
        raise ValueError(f"{type(model).__name__} takes a batch (N, C, H, W), got shape {tuple(X.shape)}")
    H, W = X.shape[-2:]
    if H % multiple or W % multiple:
        fit = f"{H - H % multiple or multiple}x{W - W % multiple or multiple}"
        raise ValueError(f"{type(model).__name__} needs an image height and width divisible by {multiple}; "
                         f"got {H}x{W} (crop or resize to, e.g., {fit})")


class ReportCNN(nn.Module):
    """The report's classifier: [Conv3x3 -> ReLU -> MaxPool] x 2 -> FC -> ReLU -> FC.

    Input ``(N, 1, 28, 28)``; output class scores (logits) ``(N, num_classes)``.

    Exercise 1: build the layers in ``__init__`` and run them in ``forward``.

    - ``self.features``: an ``nn.Sequential`` of two blocks, each a 3x3 convolution
      padded by one pixel ("same" size; 32 filters, then 64), a ReLU and a 2x2 max-pool:
      28x28 -> 14x14 -> 7x7. ``self.features[0]`` must be the first convolution (the
      notebook draws its filters).
    - ``self.classifier``: flatten the 64 maps of 7x7, a fully connected layer of
      ``hidden`` units, ReLU, and a fully connected layer to ``num_classes`` scores.
    - 421,642 parameters in all with the defaults.

    ``pool_first=True`` (the default) puts each block's max-pool before its ReLU. The two
    commute: ReLU never decreases, so the largest of four ReLU outputs is the ReLU of the
    largest input, and ``relu(maxpool(x)) == maxpool(relu(x))`` for every ``x``
    (``tests/test_models.py`` checks outputs and gradients against the report's order).
    Same function, same parameters, but ReLU and its backward pass touch a quarter of
    the values (``benchmarks/speed.py`` measures the saving). ``pool_first=False``
    builds the report's literal order, with the same parameter names.
    """

    def __init__(self, num_classes: int = 10, hidden: int = 128, pool_first: bool = True):
        super().__init__()
        # BEGIN SOLUTION q1
        def block(c_in, c_out):
            conv = nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)
            return [conv, nn.MaxPool2d(2), nn.ReLU()] if pool_first else [conv, nn.ReLU(), nn.MaxPool2d(2)]

        self.features = nn.Sequential(*block(1, 32), *block(32, 64))  # (N, 32, 14, 14), then (N, 64, 7, 7)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 7 * 7, hidden), nn.ReLU(), nn.Linear(hidden, num_classes),
        )
        # END SOLUTION

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if X.dim() != 4 or tuple(X.shape[1:]) != (1, 28, 28):
            raise ValueError(f"ReportCNN takes grey 28x28 images, a batch of shape (N, 1, 28, 28); "
                             f"got {tuple(X.shape)}")
        # BEGIN SOLUTION q1
        return self.classifier(self.features(X))
        # END SOLUTION


class ReportSegNet(nn.Module):
    """The report's encoder-decoder for segmentation, layer for layer.

    Input ``(N, 3, H, W)`` with H, W divisible by 4; output per-pixel class scores
    ``(N, num_classes, H, W)``.

    Exercise 5: ``self.layers``, one ``nn.Sequential`` of the report's list in order:
    conv 3->32 (3x3, padded), batch norm, ReLU, 2x2 max-pool; conv 32->64, batch norm,
    ReLU, max-pool; conv 64->64, batch norm, ReLU; a 2x2 transposed convolution of
    stride 2 (64->64); conv 64->32, batch norm, ReLU; a transposed convolution 32->32;
    and a final 3x3 conv to ``num_classes`` scores. 97,189 parameters with 5 classes.
    The report lists the second batch norm as ``BatchNorm2d(32)``, but it follows a
    convolution with 64 output channels, so it cannot run: make it fit.
    """

    def __init__(self, num_classes: int = 5):
        super().__init__()
        # BEGIN SOLUTION q5
        self.layers = nn.Sequential(
            nn.Conv2d(3, 32, 3, stride=1, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),                                                 # H/2
            nn.Conv2d(32, 64, 3, stride=1, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2),                                                 # H/4
            nn.Conv2d(64, 64, 3, stride=1, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.ConvTranspose2d(64, 64, 2, stride=2, padding=0),              # H/2
            nn.Conv2d(64, 32, 3, stride=1, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.ConvTranspose2d(32, 32, 2, stride=2, padding=0),              # H
            nn.Conv2d(32, num_classes, 3, stride=1, padding=1),
        )
        # END SOLUTION

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        check_size(self, X, 4)  # two max-pools down, two stride-2 transposed convolutions up
        return self.layers(X)


def conv_bn_relu(c_in: int, c_out: int) -> list[nn.Module]:
    """3x3 convolution (padded, no bias: batch norm has one) -> BatchNorm -> ReLU."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class ResidualPair(nn.Module):
    """``relu(X + bn(conv(relu(bn(conv(X))))))``: two conv-BN layers of ``width`` channels
    whose output is added to their input (a ResNet basic block), then ReLU."""

    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(*conv_bn_relu(width, width), nn.Conv2d(width, width, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(width))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return torch.relu(X + self.body(X))


class StrongCNN(nn.Module):
    """A stronger Fashion-MNIST classifier, shaped for a CPU's budget.

    Input ``(N, 1, 28, 28)``; output logits ``(N, num_classes)``.
    A conv-BN-ReLU stem of ``widths[0]`` channels at 28x28, then one stage per further
    width: a 3x3 convolution, 2x2 max-pooling, BN and ReLU (pooling *before* the
    normalisation, so BN and ReLU run on maps a quarter the size), followed by
    ``convs_per_stage`` conv-BN-ReLU layers at the pooled size (14x14, then 7x7).
    The head takes each channel's maximum over the 7x7 map and one linear layer.

    That layout is ``transition="conv-pool"``, the default. ``transition="pool-conv"`` is
    a cheaper variant that the benchmarks price (same parameters): each stage pools
    *first* and runs all its convolutions at the pooled size, so no convolution but the
    stem's runs at 28x28 (0.63x the multiply-adds).

    ``transition="patch"`` downsamples with a 2x2 convolution of stride 2 instead, which
    sees every pixel of the incoming map once (no pooling), for about a ninth of the
    arithmetic of the conv-pool transition's 3x3 convolution at the full size.

    ``residual=True``, another variant the benchmarks try (same parameters and
    arithmetic), adds each pair of a stage's further layers to its input as a
    :class:`ResidualPair`, so that the gradient also reaches the early layers through the
    shortcut; it needs an even ``convs_per_stage``.
    """

    TRANSITIONS = ("conv-pool", "pool-conv", "patch")

    def __init__(self, num_classes: int = 10, widths=(32, 64, 128), convs_per_stage: int = 2,
                 transition: str = "conv-pool", residual: bool = False):
        super().__init__()
        if transition not in self.TRANSITIONS:
            raise ValueError(f"transition={transition!r}: choose one of {', '.join(self.TRANSITIONS)}")
        if residual and convs_per_stage % 2:
            raise ValueError(f"residual=True pairs each stage's convolutions: convs_per_stage={convs_per_stage} "
                             "must be even (e.g. 2)")
        layers, c_in = conv_bn_relu(1, widths[0]), widths[0]
        for width in widths[1:]:
            if transition == "pool-conv":
                layers += [nn.MaxPool2d(2), *conv_bn_relu(c_in, width)]
            elif transition == "patch":
                layers += [nn.Conv2d(c_in, width, 2, stride=2, bias=False), nn.BatchNorm2d(width),
                           nn.ReLU(inplace=True)]
            else:
                layers += [nn.Conv2d(c_in, width, 3, padding=1, bias=False), nn.MaxPool2d(2),
                           nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            if residual:
                layers += [ResidualPair(width) for _ in range(convs_per_stage // 2)]
            else:
                for _ in range(convs_per_stage):
                    layers += conv_bn_relu(width, width)
            c_in = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(c_in, num_classes, bias=False))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(X))


class UNet(nn.Module):
    """A small U-Net: an encoder-decoder whose decoder also sees the encoder's features
    at each resolution (skip connections), so thin structures survive the downsampling.

    Input ``(N, 3, H, W)`` with H, W divisible by ``2 ** (len(widths) - 1)``; output
    ``(N, num_classes, H, W)``.
    """

    def __init__(self, num_classes: int = 5, widths=(16, 32, 64, 128)):
        super().__init__()
        self.down = nn.ModuleList()
        c_in = 3
        for width in widths:
            self.down.append(nn.Sequential(*conv_bn_relu(c_in, width), *conv_bn_relu(width, width)))
            c_in = width
        self.pool = nn.MaxPool2d(2)
        self.up, self.merge = nn.ModuleList(), nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.up.append(nn.ConvTranspose2d(c_in, width, 2, stride=2))
            self.merge.append(nn.Sequential(*conv_bn_relu(2 * width, width), *conv_bn_relu(width, width)))
            c_in = width
        self.classify = nn.Conv2d(c_in, num_classes, 1)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        check_size(self, X, 2 ** (len(self.down) - 1))
        skips = []
        for i, block in enumerate(self.down):
            X = block(X if i == 0 else self.pool(X))
            skips.append(X)
        skips.pop()  # the deepest features are X itself
        for up, merge in zip(self.up, self.merge):
            X = merge(torch.cat([up(X), skips.pop()], dim=1))
        return self.classify(X)

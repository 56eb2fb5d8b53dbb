"""What several checks share: a few Adam steps on one tiny batch, with our own loop."""
import torch
from torch import nn


def adam_losses(model: nn.Module, X: torch.Tensor, y: torch.Tensor, steps: int = 30, lr: float = 1e-3) -> list[float]:
    """The loss before each of ``steps`` Adam steps of ``model`` on the batch ``(X, y)``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses

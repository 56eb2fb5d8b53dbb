"""Exercise 1: the report's CNN (helpers/models.py, ReportCNN)."""
import torch
from torch import nn

from helpers.models import ReportCNN, count_parameters
from tiny_training import adam_losses


def test_output_shape():
    torch.manual_seed(0)
    scores = ReportCNN()(torch.zeros(5, 1, 28, 28))
    assert tuple(scores.shape) == (5, 10), \
        f"wrong output shape: expected (5, 10) for a batch of 5 images, got {tuple(scores.shape)}"


def test_parameter_count():
    n = count_parameters(ReportCNN())
    assert n == 421_642, (f"expected 421,642 parameters (conv 320 + conv 18,496 + FC 401,536 + FC 1,290), "
                          f"got {n:,}: check the filter counts, the padding and the FC sizes")


def test_first_layer_is_a_3x3_convolution_with_32_filters():
    first = ReportCNN().features[0]
    assert isinstance(first, nn.Conv2d), f"features[0] should be the first Conv2d, got {type(first).__name__}"
    assert tuple(first.weight.shape) == (32, 1, 3, 3), \
        f"features[0] should have weights (32, 1, 3, 3), got {tuple(first.weight.shape)}"


def test_loss_falls_on_a_tiny_batch():
    torch.manual_seed(0)
    model = ReportCNN()
    X, y = torch.rand(16, 1, 28, 28), torch.arange(16) % 10
    losses = adam_losses(model, X, y)
    assert losses[-1] < 0.5 * losses[0], \
        f"30 Adam steps on 16 images should halve the loss; it went from {losses[0]:.3f} to {losses[-1]:.3f}"

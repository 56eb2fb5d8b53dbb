"""Exercise 5: the report's segmentation net (helpers/models.py, ReportSegNet)."""
import torch
from torch import nn

from helpers.models import ReportSegNet, count_parameters
from tiny_training import adam_losses


def test_output_has_a_score_per_class_and_pixel():
    scores = ReportSegNet(num_classes=5)(torch.zeros(2, 3, 64, 64))
    assert tuple(scores.shape) == (2, 5, 64, 64), \
        f"wrong output shape: expected (2, 5, 64, 64) for 2 photos of 64x64, got {tuple(scores.shape)}"


def test_parameter_count():
    n = count_parameters(ReportSegNet(num_classes=5))
    assert n == 97_189, f"expected 97,189 parameters with 5 classes, got {n:,}: compare each layer with the list"


def test_batch_norms_fit_their_convolutions():
    sizes = [m.num_features for m in ReportSegNet().modules() if isinstance(m, nn.BatchNorm2d)]
    assert sizes == [32, 64, 64, 32], \
        f"the batch norms should have 32, 64, 64, 32 channels (the report's second one is a typo), got {sizes}"


def test_loss_falls_on_a_tiny_batch():
    torch.manual_seed(0)
    model = ReportSegNet()
    X, y = torch.rand(2, 3, 32, 32), torch.randint(0, 5, (2, 32, 32))
    losses = adam_losses(model, X, y)
    assert losses[-1] < 0.8 * losses[0], \
        f"30 Adam steps on 2 photos should cut the loss by a fifth; it went from {losses[0]:.3f} to {losses[-1]:.3f}"

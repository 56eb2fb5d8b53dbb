"""Exercise 5, hidden: the student's ReportSegNet."""
import torch
from torch import nn

from helpers.models import ReportSegNet

import recipes


def test_layer_order_as_the_report_lists_it():
    kinds = [type(m).__name__ for m in ReportSegNet().modules() if not isinstance(m, nn.Sequential)]
    kinds = [k for k in kinds if k != "ReportSegNet"]
    assert kinds == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d",
                     "Conv2d", "BatchNorm2d", "ReLU", "ConvTranspose2d", "Conv2d", "BatchNorm2d", "ReLU",
                     "ConvTranspose2d", "Conv2d"]


def test_other_class_counts():
    assert tuple(ReportSegNet(num_classes=3)(torch.zeros(1, 3, 16, 16)).shape) == (1, 3, 16, 16)


def test_trains_to_the_solutions_mean_ap():
    mean_ap = recipes.q5_report_segnet(ReportSegNet)
    assert mean_ap >= recipes.threshold("q5_mean_ap"), f"mean AP {mean_ap:.3f}"

"""Exercise 1, hidden: the student's ReportCNN."""
import torch

from helpers.models import ReportCNN

import recipes


def test_other_class_counts_and_hidden_sizes():
    model = ReportCNN(num_classes=7, hidden=32)
    assert tuple(model(torch.zeros(3, 1, 28, 28)).shape) == (3, 7)
    assert sum(p.numel() for p in model.parameters()) == 320 + 18_496 + (64 * 49 * 32 + 32) + (32 * 7 + 7)


def test_pool_first_flag_keeps_the_function():
    torch.manual_seed(1)
    a, b = ReportCNN(pool_first=True), ReportCNN(pool_first=False)
    b.load_state_dict(a.state_dict())
    X = torch.randn(4, 1, 28, 28)
    assert torch.allclose(a(X), b(X), atol=1e-6)


def test_trains_to_the_solutions_accuracy():
    accuracy = recipes.q1_report_cnn(ReportCNN)
    assert accuracy >= recipes.threshold("q1_val_accuracy"), f"validation accuracy {accuracy:.3f}"

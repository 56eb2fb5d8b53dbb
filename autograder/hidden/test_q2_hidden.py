"""Exercise 2, hidden: the student's train_step and train_epoch, through training.train."""
import torch
from torch import nn

from helpers import config, training
from helpers.data import TensorBatches

import recipes


def test_step_with_adam_matches_a_reference_step():
    torch.manual_seed(3)
    a, b = recipes.reference_cnn(), recipes.reference_cnn()
    b.load_state_dict(a.state_dict())
    X, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    opt_a, opt_b = torch.optim.Adam(a.parameters(), lr=1e-3), torch.optim.Adam(b.parameters(), lr=1e-3)
    for _ in range(3):
        training.train_step(a, X, y, nn.functional.cross_entropy, opt_a, config.plain_path("cpu"))
        loss = nn.functional.cross_entropy(b(X), y)
        opt_b.zero_grad()
        loss.backward()
        opt_b.step()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6)


def test_epoch_over_an_uneven_last_batch():
    torch.manual_seed(0)
    model = recipes.reference_cnn()
    X, y = torch.randn(11, 1, 28, 28), torch.randint(0, 10, (11,))
    sizes = []
    training.train_epoch(model, TensorBatches(X, y, 4), nn.functional.cross_entropy,
                         torch.optim.SGD(model.parameters(), lr=0.01), config.plain_path("cpu"),
                         after_batch=lambda i, Xb, yb, step: sizes.append((i, len(Xb), step.loss.numel())))
    assert sizes == [(1, 4, 1), (2, 4, 1), (3, 3, 1)]


def test_trains_to_the_solutions_accuracy():
    accuracy, history = recipes.q2_training_loop()
    assert history["samples"] == [2_560, 5_000, 7_560, 10_000]  # 79 batches: points after 40 and 79
    assert accuracy >= recipes.threshold("q2_val_accuracy"), f"validation accuracy {accuracy:.3f}"

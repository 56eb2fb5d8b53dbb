"""Exercise 2: one training step and one epoch (helpers/training.py, train_step and train_epoch)."""
import torch
from torch import nn

from helpers import config, training
from helpers.data import TensorBatches

CPU = config.plain_path("cpu")


def _tiny(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 3)), torch.randn(6, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2])


def test_step_returns_the_loss_before_the_update():
    model, X, y = _tiny()
    expected = nn.functional.cross_entropy(model(X), y).item()
    step = training.train_step(model, X, y, nn.functional.cross_entropy,
                               torch.optim.SGD(model.parameters(), lr=0.1), CPU)
    assert isinstance(step, training.Step), f"train_step should return a training.Step, got {type(step).__name__}"
    assert abs(step.loss.item() - expected) < 1e-6, \
        f"Step.loss should be the batch's loss before the update ({expected:.5f}), got {step.loss.item():.5f}"
    assert tuple(step.scores.shape) == (6, 3), f"Step.scores should be the model's scores (6, 3), got {tuple(step.scores.shape)}"
    assert not step.loss.requires_grad, "return the loss detached (loss.detach())"


def test_step_moves_the_weights_down_the_gradient():
    model, X, y = _tiny()
    weight = model[1].weight.detach().clone()
    grad, = torch.autograd.grad(nn.functional.cross_entropy(model(X), y), [model[1].weight])
    training.train_step(model, X, y, nn.functional.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1), CPU)
    expected = weight - 0.1 * grad
    assert torch.allclose(model[1].weight, expected, atol=1e-6), \
        "after one SGD step (lr 0.1) the weights should be w - 0.1 * gradient: did you call backward and step?"


def test_old_gradients_are_cleared():
    model, X, y = _tiny()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    for p in model.parameters():
        p.grad = torch.full_like(p, 100.0)  # stale gradients from an earlier batch
    training.train_step(model, X, y, nn.functional.cross_entropy, optimizer, CPU)
    grad, = torch.autograd.grad(nn.functional.cross_entropy(model(X), y), [model[1].weight])
    assert torch.allclose(model[1].weight.grad, grad, atol=1e-6), \
        "the gradients after the step should be this batch's alone: clear the old ones with optimizer.zero_grad()"


def test_loss_falls_over_steps():
    model, X, y = _tiny()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = [training.train_step(model, X, y, nn.functional.cross_entropy, optimizer, CPU).loss.item()
              for _ in range(50)]
    assert losses[-1] < 0.5 * losses[0], f"50 steps should halve the loss; it went from {losses[0]:.3f} to {losses[-1]:.3f}"


def test_epoch_takes_one_step_per_batch_in_order():
    model, X, y = _tiny()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    seen = []
    training.train_epoch(model, TensorBatches(X, y, batch_size=2), nn.functional.cross_entropy, optimizer, CPU,
                         scheduler=scheduler, after_batch=lambda i, Xb, yb, step: seen.append((i, len(Xb))))
    assert seen == [(1, 2), (2, 2), (3, 2)], \
        f"after_batch(i, X, y, step) should be called once per batch with i = 1, 2, 3; calls were {seen}"
    assert abs(optimizer.param_groups[0]["lr"] - 0.1 * 0.5 ** 3) < 1e-9, \
        "the learning-rate schedule should advance once per batch (step_scheduler)"
    assert model.training, "train_epoch should leave the model in training mode"

import dataclasses
import math

import pytest
import torch
from torch import nn

from helpers import config, training
from helpers.data import TensorBatches
from helpers.models import ReportCNN, ReportSegNet


CPU = config.plain_path("cpu")


def _steps(model, X, y, n, precision="fp32"):
    """``n`` steps of ``training.train_step`` (with the fp16 scaler when asked); the losses."""
    fast = dataclasses.replace(CPU, precision=precision)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = training.make_scaler(fast)
    return [training.train_step(model, X, y, nn.functional.cross_entropy, optimizer, fast, scaler).loss.item()
            for _ in range(n)]


def test_cnn_loss_falls_on_a_tiny_batch():
    torch.manual_seed(0)
    X, y = torch.rand(16, 1, 28, 28), torch.arange(16) % 10
    losses = _steps(ReportCNN(), X, y, 30)
    assert losses[-1] < 0.5 * losses[0]


def test_segnet_loss_falls_on_a_tiny_batch():
    torch.manual_seed(0)
    X, y = torch.rand(2, 3, 32, 32), torch.randint(0, 5, (2, 32, 32))
    losses = _steps(ReportSegNet(), X, y, 30)
    assert losses[-1] < 0.8 * losses[0]


def test_train_records_points_against_samples_seen():
    torch.manual_seed(0)
    X, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 10
    model = training.prepare_model(ReportCNN(), CPU)
    loader = TensorBatches(X, y, batch_size=8, shuffle=True)
    history = training.train(model, loader, TensorBatches(X, y, 20), nn.CrossEntropyLoss(),
                             torch.optim.Adam(model.parameters()), epochs=2, fast=CPU,
                             evals_per_epoch=2, progress=False)
    # 5 batches per epoch, evaluated after batch 2 and 5 of each epoch
    assert history["samples"] == [16, 40, 56, 80]
    assert history["epoch"] == pytest.approx([0.4, 1.0, 1.4, 2.0])
    assert all(len(history[k]) == 4 for k in ("train_loss", "train_acc", "val_loss", "val_acc"))
    assert history["seconds"] > 0 and history["skipped_steps"] == 0
    # evaluate() and predict() agree on the final model
    val_loss, val_acc = training.evaluate(model, TensorBatches(X, y, 20), nn.CrossEntropyLoss(), CPU)
    assert (val_loss, val_acc) == pytest.approx((history["val_loss"][-1], history["val_acc"][-1]))
    probs, labels = training.predict(model, TensorBatches(X, y, 7), CPU)
    assert probs.shape == (40, 10) and probs.dtype == torch.float32
    assert torch.allclose(probs.sum(1), torch.ones(40))
    assert (probs.argmax(1) == labels).float().mean().item() == pytest.approx(val_acc)


def test_eval_every_evaluates_every_kth_epoch_and_the_last():
    torch.manual_seed(0)
    X, y = torch.rand(20, 1, 28, 28), torch.arange(20) % 10
    model = training.prepare_model(ReportCNN(), CPU)
    history = training.train(model, TensorBatches(X, y, 10), TensorBatches(X, y, 20), nn.CrossEntropyLoss(),
                             torch.optim.Adam(model.parameters()), epochs=5, fast=CPU, eval_every=2,
                             progress=False)
    # epochs 2 and 4, and 5 (the last); each training point averages every batch since the previous one
    assert history["epoch"] == pytest.approx([2.0, 4.0, 5.0])
    assert history["samples"] == [40, 80, 100]
    with pytest.raises(ValueError, match="eval_every"):
        training.train(model, TensorBatches(X, y, 10), TensorBatches(X, y, 20), nn.CrossEntropyLoss(),
                       torch.optim.Adam(model.parameters()), epochs=1, fast=CPU, eval_every=0, progress=False)


def test_a_final_fit_records_training_points_only_and_trains_the_same():
    """Without a validation loader (a final fit) the training points sit where they would
    with one, the history has no validation keys, and the weights end up identical:
    evaluating does not change training."""
    X, y = torch.rand(20, 1, 28, 28), torch.arange(20) % 10

    def fit(val_loader):
        torch.manual_seed(0)
        model = training.prepare_model(ReportCNN(), CPU)
        history = training.train(model, TensorBatches(X, y, 10, shuffle=True), val_loader, nn.CrossEntropyLoss(),
                                 torch.optim.Adam(model.parameters()), epochs=3, fast=CPU, eval_every=2,
                                 progress=False)
        return model, history

    (held_out, with_val), (final, without) = fit(TensorBatches(X, y, 20)), fit(None)
    assert "val_loss" not in without and "val_acc" not in without
    for key in ("samples", "epoch", "train_loss", "train_acc"):
        assert without[key] == pytest.approx(with_val[key]), key
    assert without["epoch"] == pytest.approx([2.0, 3.0])
    for p, q in zip(held_out.parameters(), final.parameters()):
        assert torch.equal(p, q)


def test_bf16_autocast_runs_in_bf16_and_fp32_does_not():
    layer = nn.Linear(4, 3)
    X = torch.rand(2, 4)
    with training.autocast("cpu", "bf16"):
        assert layer(X).dtype == torch.bfloat16
    with training.autocast("cpu", "fp32"):
        assert layer(X).dtype == torch.float32
    with training.autocast("cpu", "fp16"):
        assert layer(X).dtype == torch.float16
    with pytest.raises(ValueError, match="precision='fp8'"):
        training.autocast("cpu", "fp8")


def test_bf16_training_step_stays_close_to_fp32():
    X, y = torch.rand(8, 1, 28, 28), torch.arange(8)
    results = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        results[precision] = _steps(ReportCNN(), X, y, 3, precision)
    assert results["bf16"] == pytest.approx(results["fp32"], rel=0.05)


def test_flip_tta_averages_image_and_mirror():
    torch.manual_seed(0)
    model = ReportCNN().eval()
    X, y = torch.rand(4, 1, 28, 28), torch.arange(4)
    plain, _ = training.predict(model, TensorBatches(X, y, 2), CPU)
    mirror, _ = training.predict(model, TensorBatches(X.flip(-1), y, 2), CPU)
    tta, _ = training.predict(model, TensorBatches(X, y, 2), CPU, flip_tta=True)
    assert torch.allclose(tta, (plain + mirror) / 2, atol=1e-6)
    assert not torch.allclose(tta, plain)


def test_flip_tta_mirrors_a_segmenters_scores_back():
    """Each pixel averages its own score with the score its mirror image gives it."""
    torch.manual_seed(0)
    model = nn.Conv2d(3, 5, 3, padding=1).eval()  # scores per pixel, (N, 5, H, W)
    X, y = torch.rand(2, 3, 16, 16) * 4, torch.randint(0, 5, (2, 16, 16))
    plain, _ = training.predict(model, TensorBatches(X, y, 2), CPU)
    mirror, _ = training.predict(model, TensorBatches(X.flip(-1), y, 2), CPU)
    tta, _ = training.predict(model, TensorBatches(X, y, 2), CPU, flip_tta=True)
    assert torch.allclose(tta, (plain + mirror.flip(-1)) / 2, atol=1e-6)
    assert not torch.allclose(tta, (plain + mirror) / 2, atol=1e-3)


def test_predict_averages_the_views_it_is_given_and_refuses_an_empty_or_double_choice():
    """``views`` are (view, back) pairs: here the image and its upside-down copy, whose
    scores need nothing mapped back; three views weigh a third each."""
    torch.manual_seed(0)
    model = ReportCNN().eval()
    X, y = torch.rand(4, 1, 28, 28), torch.arange(4)
    plain, _ = training.predict(model, TensorBatches(X, y, 2), CPU)
    upside_down, _ = training.predict(model, TensorBatches(X.flip(-2), y, 2), CPU)
    same = lambda S: S  # noqa: E731
    views = [(same, same), (lambda X: X.flip(-2), same), (same, same)]
    probs, labels = training.predict(model, TensorBatches(X, y, 2), CPU, views=views)
    assert torch.allclose(probs, (2 * plain + upside_down) / 3, atol=1e-6)
    assert torch.equal(labels, y)
    with pytest.raises(ValueError, match="flip_tta or views, not both"):
        training.predict(model, TensorBatches(X, y, 2), CPU, flip_tta=True, views=views)
    with pytest.raises(ValueError, match="views is empty"):
        training.predict(model, TensorBatches(X, y, 2), CPU, views=[])


def test_fused_optimizer_detected_and_same_update_as_default():
    assert config.fused_optimizer_available("cpu")  # torch >= 2.4 has a fused CPU Adam
    torch.manual_seed(0)
    X, y = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    fused, plain = ReportCNN(), ReportCNN()
    plain.load_state_dict(fused.state_dict())
    for model, kw in ((fused, dict(fused=True)), (plain, {})):
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, **kw)
        for _ in range(3):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(X), y).backward()
            optimizer.step()
    for a, b in zip(fused.parameters(), plain.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_fused_optimizer_fallback(monkeypatch):
    def unsupported(params, **kw):
        if kw.get("fused"):
            raise RuntimeError("`fused=True` requires all the params to be on a supported device")
        return real(params, **kw)
    real = torch.optim.Adam
    monkeypatch.setattr(torch.optim, "Adam", unsupported)
    assert not config.fused_optimizer_available("cpu")


@pytest.mark.parametrize("model_cls, shape", [(ReportCNN, (1, 28, 28)), (ReportSegNet, (3, 16, 16))])
def test_evaluation_does_not_depend_on_batch_size(model_cls, shape):
    """What lets the notebooks pick evaluation batch sizes for speed: the same
    probabilities, loss and accuracy whatever the batch (batch norm uses its running
    statistics in evaluation mode, not the batch's)."""
    torch.manual_seed(0)
    model = model_cls()
    model.train()
    for _ in range(2):  # give batch norm running statistics that differ from any one batch's
        model(torch.randn(8, *shape) * 3 + 1)
    X = torch.randn(10, *shape)
    y = torch.randint(0, 5, (10, *shape[1:])) if model_cls is ReportSegNet else torch.randint(0, 10, (10,))
    loss_fn = nn.CrossEntropyLoss()

    def run(bs):  # each left in training mode by the caller, as after a training epoch
        model.train()
        predicted = training.predict(model, TensorBatches(X, y, bs), CPU)
        model.train()
        return predicted, training.evaluate(model, TensorBatches(X, y, bs), loss_fn, CPU)

    results = {bs: run(bs) for bs in (1, 3, 10)}
    (probs, _), (loss, acc) = results[10]
    for bs in (1, 3):
        (other_probs, other_y), (other_loss, other_acc) = results[bs]
        assert torch.allclose(other_probs, probs, atol=1e-5) and torch.equal(other_y, y)
        assert other_loss == pytest.approx(loss, rel=1e-5) and other_acc == acc


def _scores_from_probs(probs):
    """Scores whose softmax over dim 1 is exactly ``probs``."""
    return torch.tensor(probs).log()


def test_dice_cross_entropy_matches_a_hand_computed_case():
    # one photo of 1x2 pixels, two classes; the first pixel is class 0, the second class 1
    probs = [[[[0.8, 0.4]], [[0.2, 0.6]]]]   # (N=1, C=2, H=1, W=2)
    scores, y = _scores_from_probs(probs), torch.tensor([[[0, 1]]])
    loss = training.DiceCrossEntropy(2, dice_weight=1.0, eps=0.0)
    # class 0: 2 * 0.8 / (0.8 + 0.4 + 1) = 1.6 / 2.2; class 1: 2 * 0.6 / (0.2 + 0.6 + 1) = 1.2 / 1.8
    dice = 1 - (1.6 / 2.2 + 1.2 / 1.8) / 2
    assert loss.dice_loss(scores, y).item() == pytest.approx(dice, abs=1e-6)
    cross_entropy = -(math.log(0.8) + math.log(0.6)) / 2
    assert loss(scores, y).item() == pytest.approx(cross_entropy + dice, abs=1e-6)
    half = training.DiceCrossEntropy(2, dice_weight=0.5, eps=0.0)
    assert half(scores, y).item() == pytest.approx(cross_entropy + 0.5 * dice, abs=1e-6)


def test_dice_term_is_zero_for_a_perfect_prediction_and_one_for_a_wrong_one():
    y = torch.tensor([[[0, 1], [2, 1]]])
    perfect = 50 * torch.nn.functional.one_hot(y, 4).movedim(-1, 1).float()  # class 3 absent from both
    loss = training.DiceCrossEntropy(4)
    assert loss.dice_loss(perfect, y).item() == pytest.approx(0.0, abs=1e-6)
    wrong = 50 * torch.nn.functional.one_hot((y + 1) % 3, 4).movedim(-1, 1).float()
    # no overlap: with eps = 1 each present class scores 1 / (its predicted + true pixels + 1):
    # class 0 1 / 3, class 1 1 / 4, class 2 1 / 4; absent class 3 still 1
    assert loss.dice_loss(wrong, y).item() == pytest.approx(1 - (1 / 3 + 1 / 4 + 1 / 4 + 1) / 4, abs=1e-6)
    with pytest.raises(ValueError, match="scores have 3 classes, the loss was built for 4"):
        loss(perfect[:, :3], y)


def test_dice_cross_entropy_without_dice_is_the_weighted_cross_entropy():
    scores, y = torch.randn(2, 3, 4, 4), torch.randint(0, 3, (2, 4, 4))
    weight = torch.tensor([0.5, 1.0, 2.0])
    plain = torch.nn.CrossEntropyLoss(weight=weight)(scores, y)
    assert torch.allclose(training.DiceCrossEntropy(3, dice_weight=0.0, weight=weight)(scores, y), plain)


def test_dice_cross_entropy_loss_falls_on_a_tiny_batch():
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 5, 3, padding=1)
    X, y = torch.randn(2, 3, 8, 8), torch.randint(0, 5, (2, 8, 8))
    loss_fn = training.DiceCrossEntropy(5)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    first = loss_fn(model(X), y).item()
    for _ in range(30):
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.8 * first

import pytest
import torch

from helpers.augment import classification_augment, flip_crop, segmentation_augment
from helpers.data import TensorBatches


def _coded_batch(n=6, size=8):
    """Photos whose 3 channels and label map all hold each pixel's own (row, col) code,
    so any misalignment between photo and labels shows up as a mismatch."""
    code = torch.arange(size * size).view(size, size)
    X = code.float().expand(n, 3, size, size) + 1000 * torch.arange(n).view(n, 1, 1, 1)
    y = code.expand(n, size, size) + 1000 * torch.arange(n).view(n, 1, 1)
    return X.contiguous(), y.contiguous()


def test_segmentation_crop_and_flip_keep_photo_and_labels_aligned():
    X, y = _coded_batch()
    Xa, ya = segmentation_augment(5)(X, y, torch.Generator().manual_seed(0))
    assert Xa.shape == (6, 3, 5, 5) and ya.shape == (6, 5, 5)
    for c in range(3):
        assert torch.equal(Xa[:, c].long(), ya)
    # something did change: crops moved and at least one image was flipped
    flipped = [bool((ya[i, 0, 1] < ya[i, 0, 0]).item()) for i in range(6)]
    assert any(flipped) and not all(flipped)


def test_misalignment_would_be_caught():
    """The check above fails when the flip or crop reaches only the photo."""
    X, y = _coded_batch()
    g = torch.Generator().manual_seed(0)
    Xa = flip_crop(X, g, size=5)
    ya = flip_crop(X, g, size=5)[:, 0].long()  # labels drawn with other random numbers
    assert not torch.equal(Xa[:, 0].long(), ya)


def test_classification_augment_changes_images_not_labels():
    X, y = torch.rand(32, 1, 28, 28), torch.arange(32) % 10
    Xa, ya = classification_augment(pad=2)(X, y, torch.Generator().manual_seed(0))
    assert Xa.shape == X.shape and torch.equal(ya, y)
    changed = (Xa != X).flatten(1).any(1)
    assert changed.float().mean() > 0.5
    # each augmented image holds only its own pixel values (shifted, maybe flipped, and
    # its smallest value in the uncovered edge)
    for a, x in zip(Xa, X):
        assert torch.isin(a, x).all()


def test_shifted_edge_holds_the_background_not_zero():
    """Standardised images have a negative background; a shift must not add a zero (grey) edge."""
    X = torch.full((8, 1, 6, 6), -0.8)
    X[:, :, 2:4, 2:4] = 2.0  # a bright square on a dark background
    Xa, _ = classification_augment(pad=2, flip=False)(X, torch.zeros(8), torch.Generator().manual_seed(1))
    assert torch.equal(Xa.unique(), torch.tensor([-0.8, 2.0]))
    assert not torch.equal(Xa, X)  # something moved
    # the zero padding that segmentation keeps for photos would have made a grey edge
    assert (flip_crop(X, torch.Generator().manual_seed(1), pad=2, flip=False) == 0).any()


def test_unknown_fill_is_rejected():
    with pytest.raises(ValueError, match="fill='edge': choose one of zero, min"):
        flip_crop(torch.zeros(1, 1, 8, 8), torch.Generator(), pad=1, fill="edge")


def test_classification_augment_without_flips_only_shifts():
    X, y = _coded_batch(n=16)
    X = X[:, :1]
    Xa, _ = classification_augment(pad=0, flip=False)(X, y, torch.Generator().manual_seed(0))
    assert torch.equal(Xa, X)  # no shift, no flip: unchanged
    flipped, _ = classification_augment(pad=0)(X, y, torch.Generator().manual_seed(0))
    assert any(torch.equal(f, x.flip(-1)) for f, x in zip(flipped, X))


def test_augmentation_is_for_training_batches_only():
    X, y = torch.rand(10, 1, 28, 28), torch.arange(10)
    train = TensorBatches(X, y, 5, augment=classification_augment())
    evaluation = TensorBatches(X, y, 5)
    assert not any(torch.equal(a, b) for (a, _), b in zip(train, X.split(5)))
    assert all(torch.equal(a, b) for (a, _), b in zip(evaluation, X.split(5)))


def test_augmentation_is_seeded():
    X, _ = _coded_batch()
    a = flip_crop(X, torch.Generator().manual_seed(3), size=4)
    b = flip_crop(X, torch.Generator().manual_seed(3), size=4)
    assert torch.equal(a, b)


def test_crop_larger_than_image_is_rejected():
    with pytest.raises(ValueError, match="crop size 9 is larger"):
        flip_crop(torch.zeros(1, 1, 8, 8), torch.Generator(), size=9)

import pytest
import torch

from helpers.augment import classification_augment, flip_crop, scale_flip_crop, segmentation_augment
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


def test_scale_one_is_a_plain_crop_and_flip():
    """Windows of exactly the crop's side: every output pixel is an input pixel (bilinear
    sampling at pixel centres), the photo's and the label map's the same one."""
    X, y = _coded_batch(n=8, size=12)
    Xa, ya = scale_flip_crop(X, y, torch.Generator().manual_seed(0), 6, scale=(1.0, 1.0))
    assert Xa.shape == (8, 3, 6, 6) and ya.shape == (8, 6, 6) and ya.dtype == y.dtype
    for c in range(3):
        assert torch.equal(Xa[:, c].round().long(), ya)
    for i in range(8):  # a window of 6 consecutive rows and columns, maybe mirrored
        code = ya[i] % 1000
        rows, cols = code // 12, code % 12
        assert torch.equal(rows - rows[0, 0], torch.arange(6).view(6, 1).expand(6, 6))
        step = cols[0, 1] - cols[0, 0]
        assert step in (1, -1) and torch.equal(cols - cols[:, :1], step * torch.arange(6).expand(6, 6))
    assert torch.equal(ya // 1000, torch.arange(8).view(8, 1, 1).expand(8, 6, 6))  # each photo its own labels


def _block_batch(n=16, size=32, block=8):
    """Photos and label maps of ``block`` x ``block`` squares, each square its own class code."""
    squares = torch.arange((size // block) ** 2).view(size // block, size // block)
    y = squares.repeat_interleave(block, 0).repeat_interleave(block, 1).expand(n, size, size).contiguous()
    return y[:, None].float().expand(n, 3, size, size).contiguous(), y


def test_rescaled_photos_and_labels_stay_aligned():
    X, y = _block_batch()
    Xa, ya = scale_flip_crop(X, y, torch.Generator().manual_seed(1), 16, scale=(2 / 3, 1.5))
    assert Xa.shape == (16, 3, 16, 16) and ya.shape == (16, 16, 16)
    assert set(ya.unique().tolist()) <= set(y.unique().tolist())  # labels stay labels
    agree = (Xa[:, 0].round().long() == ya).float().mean()
    # they differ only where bilinear sampling blends two squares along a border
    assert agree > 0.8
    # labels drawn with other random numbers than the photos' would not agree
    _, other = scale_flip_crop(X, y, torch.Generator().manual_seed(2), 16, scale=(2 / 3, 1.5))
    assert (Xa[:, 0].round().long() == other).float().mean() < 0.5


def test_scale_varies_the_window():
    """Zoomed in, a square of 8 pixels spans more output pixels; zoomed out, fewer."""
    X, y = _block_batch(n=64)
    _, ya = scale_flip_crop(X, y, torch.Generator().manual_seed(0), 16, scale=(0.5, 2.0))
    squares = torch.tensor([len(m.unique()) for m in ya])
    assert squares.min() <= 4 and squares.max() >= 9  # 2x2 squares at most (zoomed in), 3x3 at least (out)
    _, plain = scale_flip_crop(X, y, torch.Generator().manual_seed(0), 16, scale=(1.0, 1.0))
    assert set(len(m.unique()) for m in plain) <= {4, 6, 9}  # a 16-pixel window covers 2 or 3 squares a side


def test_segmentation_augment_with_a_scale_range_rescales():
    X, y = _block_batch(n=8)
    g = torch.Generator().manual_seed(0)
    Xa, ya = segmentation_augment(16, scale=(0.5, 2.0))(X, y, g)
    Xb, yb = scale_flip_crop(X, y, torch.Generator().manual_seed(0), 16, scale=(0.5, 2.0))
    assert torch.equal(Xa, Xb) and torch.equal(ya, yb)


@pytest.mark.parametrize("scale", [(0.0, 1.0), (1.5, 1.0), (1.0, 2.5)])
def test_bad_scale_is_rejected(scale):
    X, y = _block_batch(n=2)
    with pytest.raises(ValueError, match=r"scale=.*fit the 32x32 photos"):
        scale_flip_crop(X, y, torch.Generator(), 16, scale=scale)

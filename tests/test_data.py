import numpy as np
import pytest
import torch

from helpers import data
from helpers.data import DataError, TensorBatches, load_fashion_mnist

from tiny_data import write_idx


def test_debian_copy_is_decompressed_and_split(tmp_path, debian_fashion):
    root = tmp_path / "root"
    fashion = load_fashion_mnist(val_size=5, root=root, debian_dir=debian_fashion, download=False)
    # decompressed into torchvision's raw folder, no .gz copied, nothing half-written
    raw = sorted(p.name for p in (root / "FashionMNIST" / "raw").iterdir())
    assert raw == sorted(data.RAW_FILES)
    assert fashion.X_train.shape == (25, 1, 28, 28) and fashion.X_val.shape == (5, 1, 28, 28)
    assert fashion.X_test.shape == (12, 1, 28, 28) and fashion.y_test.dtype == torch.int64
    assert fashion.X_train.dtype == torch.float32
    assert 0.0 <= fashion.X_train.min() and fashion.X_train.max() <= 1.0
    # pixel (1, 1) holds the image's index: the split is a partition of the 30 images
    ids = torch.cat([fashion.X_train, fashion.X_val])[:, 0, 1, 1].mul(255).round().long()
    assert sorted(ids.tolist()) == list(range(30))
    # labels travel with their images
    assert torch.equal(torch.cat([fashion.y_train, fashion.y_val]), ids % 10)


def test_split_is_seeded(tmp_path, debian_fashion):
    load = lambda seed: load_fashion_mnist(  # noqa: E731
        val_size=5, root=tmp_path / "r", debian_dir=debian_fashion, download=False,
        generator=torch.Generator().manual_seed(seed)).X_val
    assert torch.equal(load(1), load(1))
    assert not torch.equal(load(1), load(2))


def test_missing_data_says_where_it_looked_and_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as err:
        load_fashion_mnist(root=tmp_path / "nowhere", debian_dir=tmp_path / "no-debian", download=False)
    message = str(err.value)
    assert str(tmp_path / "nowhere") in message and str(tmp_path / "no-debian") in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_truncated_raw_file_is_named(tmp_path, debian_fashion):
    root = tmp_path / "root"
    load_fashion_mnist(val_size=5, root=root, debian_dir=debian_fashion, download=False)
    victim = root / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte"
    victim.write_bytes(victim.read_bytes()[:-100])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte is truncated"):
        load_fashion_mnist(val_size=5, root=root, debian_dir=debian_fashion, download=False)


def test_corrupt_gzip_is_named_and_leaves_nothing_behind(tmp_path, debian_fashion):
    bad = debian_fashion / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:20])
    root = tmp_path / "root"
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz"):
        load_fashion_mnist(val_size=5, root=root, debian_dir=debian_fashion, download=False)
    leftovers = [p.name for p in (root / "FashionMNIST" / "raw").iterdir()]
    assert "train-labels-idx1-ubyte" not in leftovers
    assert not [n for n in leftovers if n.endswith(".part")]


def test_wrong_magic_is_named(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.RAW_FILES:
        write_idx(raw / name, np.zeros((2, 28, 28)) if "images" in name else np.zeros(2))
    (raw / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x03" + bytes(12))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte is not an IDX file"):
        data.fashion_mnist_raw(tmp_path, tmp_path / "no-debian", download=False)


def test_tensor_batches_cover_every_item_once_per_epoch():
    X, y = torch.arange(10).float().view(10, 1), torch.arange(10)
    batches = TensorBatches(X, y, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))
    assert len(batches) == 3
    for _ in range(2):
        seen = [b for _, yb in batches for b in yb.tolist()]
        assert sorted(seen) == list(range(10))
    epoch1, epoch2 = ([yb.tolist() for _, yb in batches] for _ in range(2))
    assert epoch1 != epoch2  # a fresh permutation each epoch
    for Xb, yb in batches:
        assert torch.equal(Xb[:, 0].long(), yb)  # images stay with their labels


def test_tensor_batches_transform_and_errors():
    X, y = torch.full((5, 2), 3, dtype=torch.uint8), torch.zeros(5, dtype=torch.long)
    batches = TensorBatches(X, y, batch_size=2, transform=lambda b: b.float() / 3)
    assert [tuple(b.shape) for b, _ in batches] == [(2, 2), (2, 2), (1, 2)]
    assert all(torch.all(b == 1.0) for b, _ in batches)
    with pytest.raises(ValueError, match="X has 5 items but y has 4"):
        TensorBatches(X, y[:4])
    with pytest.raises(ValueError, match="batch_size=0"):
        TensorBatches(X, y, batch_size=0)


def test_class_weights_by_hand():
    from helpers.data import class_weights
    # shares 0.8, 0.2, 0.0 (clamped to 1e-3): 1/sqrt(share) = 1.118, 2.236, 31.62
    y = torch.tensor([0] * 8 + [1] * 2)
    w = class_weights(y, 3)
    raw = torch.tensor([1 / 0.8 ** 0.5, 1 / 0.2 ** 0.5, 1 / 1e-3 ** 0.5])
    assert torch.allclose(w, (raw / raw.mean()).float(), atol=1e-6) and w.dtype == torch.float32
    assert w.mean().item() == pytest.approx(1.0)
    assert torch.allclose(class_weights(y, 3, power=0), torch.ones(3))
    assert class_weights(y, 3, power=1)[1] / class_weights(y, 3, power=1)[0] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="power"):
        class_weights(y, 3, power=-1)

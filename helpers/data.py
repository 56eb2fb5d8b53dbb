"""Fashion-MNIST, held in memory as tensors, and a batch iterator over tensors.

Why in memory: the whole training set is 60,000 x 28 x 28 bytes (47 MB). A
per-sample ``transform`` in a ``DataLoader`` converts one PIL image at a time and
collates them, which costs more than the small CNN does on a GPU. Holding the data
as one tensor and slicing shuffled batches out of it removes that cost.
"""
from __future__ import annotations

import gzip
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision.datasets import FashionMNIST

from .config import DATA_DIR
from .files import atomic_path

CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
# Evaluation batch size. Any size gives the same outputs (up to rounding); on a CPU, batches whose
# feature maps fit in the caches are faster than big ones (benchmarks/eval_batch.py).
EVAL_BATCH = 256
RAW_FILES = (
    "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
)
# IDX headers: magic number (dtype byte 0x08 = uint8, then the number of dims)
_MAGIC = {3: 0x00000803, 1: 0x00000801}


class DataError(RuntimeError):
    """Data missing, truncated or corrupt; the message names the file and the remedy."""


def _check_idx(path: Path) -> int:
    """Check an IDX file's header and length; return its number of items."""
    ndim = 3 if "images" in path.name else 1
    try:
        with open(path, "rb") as f:
            header = f.read(4 * (1 + ndim))
        size = path.stat().st_size
    except OSError as err:
        raise DataError(f"cannot read {path}: {err}") from err
    if len(header) < 4 * (1 + ndim):
        raise DataError(f"{path} is truncated ({size} bytes)")
    magic, *dims = (int.from_bytes(header[i : i + 4], "big") for i in range(0, len(header), 4))
    if magic != _MAGIC[ndim]:
        raise DataError(f"{path} is not an IDX file of {ndim} dimension(s) (magic number {magic:#x}, "
                        f"expected {_MAGIC[ndim]:#x})")
    expected = 4 * (1 + ndim) + int(torch.tensor(dims).prod())
    if size != expected:
        raise DataError(f"{path} is truncated or corrupt: {size} bytes, its header promises {expected}")
    return dims[0]


def _check_labels(path: Path, count: int, images: Path) -> None:
    """The labels file holds as many labels as ``images`` holds images, each in 0..9."""
    n = _check_idx(path)
    if n != count:
        raise DataError(f"{path} holds {n:,} labels but {images.name} holds {count:,} images; "
                        "the two files must come from the same release")
    labels = torch.frombuffer(bytearray(path.read_bytes()[8:]), dtype=torch.uint8)
    if labels.numel() and int(labels.max()) >= len(CLASSES):
        bad = int(labels.max())
        raise DataError(f"{path} holds label value {bad} (item {int((labels == bad).nonzero()[0])}); "
                        f"Fashion-MNIST labels are 0..{len(CLASSES) - 1}")


def _check_raw(raw_dir: Path, debian_dir: Path) -> None:
    """Check the four raw files. When a pair is bad, both files are deleted (they are
    only a cached copy, so a bad one is never kept as if it were good) and the error
    says how to get them again."""
    for prefix in ("train", "t10k"):
        images, labels = raw_dir / f"{prefix}-images-idx3-ubyte", raw_dir / f"{prefix}-labels-idx1-ubyte"
        try:
            _check_labels(labels, _check_idx(images), images)
        except DataError as err:
            images.unlink(missing_ok=True)
            labels.unlink(missing_ok=True)
            raise DataError(
                f"{err}. The cached copies of {images.name} and {labels.name} were deleted: load again to "
                f"decompress them from Debian's copy ({debian_dir}) or to download them again; if they come "
                "back bad, reinstall the package: apt-get install --reinstall dataset-fashion-mnist") from None


def _decompress_debian(debian_dir: Path, raw_dir: Path) -> None:
    """Decompress Debian's ``*.gz`` copies into torchvision's raw folder.

    Each file is written to a temporary name and renamed once complete, so a
    failure leaves nothing half-written behind.
    """
    raw_dir.mkdir(parents=True, exist_ok=True)
    for name in RAW_FILES:
        target = raw_dir / name
        if target.exists():
            continue
        source = debian_dir / f"{name}.gz"
        try:
            with atomic_path(target) as tmp, gzip.open(source, "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        except (OSError, EOFError) as err:
            raise DataError(f"cannot decompress {source}: {err}. Reinstall the package: "
                            "apt-get install --reinstall dataset-fashion-mnist") from err


def fashion_mnist_raw(root: Path | str = DATA_DIR, debian_dir: Path | str = DEBIAN_DIR,
                      download: bool = True) -> Path:
    """Make sure the four raw IDX files sit in ``root/FashionMNIST/raw``; return ``root``.

    Order: files already there; else Debian's ``dataset-fashion-mnist`` copy (never a
    download when it is present); else torchvision's download (when ``download``).
    """
    root, debian_dir = Path(root), Path(debian_dir)
    raw_dir = root / "FashionMNIST" / "raw"
    have = all((raw_dir / n).exists() for n in RAW_FILES)
    if not have and all((debian_dir / f"{n}.gz").exists() for n in RAW_FILES):
        _decompress_debian(debian_dir, raw_dir)
        have = True
    if not have:
        if not download:
            raise DataError(_missing_message(raw_dir, debian_dir))
        try:
            FashionMNIST(root, train=True, download=True)
        except Exception as err:  # network errors come in many types
            raise DataError(_missing_message(raw_dir, debian_dir) +
                            f"\nThe download failed: {err}") from err
    _check_raw(raw_dir, debian_dir)
    return root


def _missing_message(raw_dir: Path, debian_dir: Path) -> str:
    return (
        f"Fashion-MNIST not found. Looked in {raw_dir} (the raw IDX files) and in "
        f"{debian_dir} (Debian's copy). Get it with `apt-get install dataset-fashion-mnist` "
        "on Debian/Ubuntu, or let torchvision download it (needs internet)."
    )


@dataclass
class Splits:
    """Inputs ``X_*`` and targets ``y_*`` of the training, validation and test splits."""

    X_train: torch.Tensor
    y_train: torch.Tensor
    X_val: torch.Tensor
    y_val: torch.Tensor
    X_test: torch.Tensor
    y_test: torch.Tensor


@dataclass
class FashionData(Splits):
    """Fashion-MNIST as tensors: images ``(N, 1, 28, 28)`` float32 in [0, 1], labels ``(N,)`` int64."""

    classes: tuple = CLASSES


def _as_tensors(dataset: FashionMNIST) -> tuple[torch.Tensor, torch.Tensor]:
    # same scaling as transforms.ToTensor(): uint8 0..255 -> float 0..1
    X = dataset.data.unsqueeze(1).float().div_(255)
    return X, dataset.targets.long()


def load_fashion_mnist(val_size: int = 10_000, generator: torch.Generator | None = None,
                       root: Path | str = DATA_DIR, debian_dir: Path | str = DEBIAN_DIR,
                       limit: int | None = None, download: bool = True) -> FashionData:
    """Load Fashion-MNIST with a seeded validation split carved from the training set.

    Args:
        val_size: images moved from the 60k training images to validation.
        generator: seeds the split (``torch.Generator().manual_seed(0)`` if None).
        limit: keep only this many training and test images (smoke runs).
    The 10k test set is returned untouched, for the final numbers only.
    """
    root = fashion_mnist_raw(root, debian_dir, download=download)
    X, y = _as_tensors(FashionMNIST(root, train=True, download=False))
    X_test, y_test = _as_tensors(FashionMNIST(root, train=False, download=False))
    if not 0 < val_size < len(X):
        raise ValueError(f"val_size={val_size} must be between 1 and {len(X) - 1}")
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    order = torch.randperm(len(X), generator=generator)
    val_idx, train_idx = order[:val_size], order[val_size:]
    if limit is not None:
        train_idx, val_idx = train_idx[:limit], val_idx[: max(limit // 5, 1)]
        X_test, y_test = X_test[:limit], y_test[:limit]
    return FashionData(X[train_idx], y[train_idx], X[val_idx], y[val_idx], X_test, y_test)


class TensorBatches:
    """Iterate over shuffled mini-batches sliced from tensors held in memory.

    A drop-in for a ``DataLoader`` over data that fits in (device) memory: yields
    ``(X, y)`` batches; a fresh permutation each epoch drawn from ``generator``. On a
    GPU the data are copied to it once and every batch is sliced there, with a
    device-side generator seeded from ``generator``.
    An optional ``transform(X)`` (e.g. uint8 -> scaled float) and then an optional
    ``augment(X, y, generator)`` run on whole batches, on the data's device.
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor, batch_size: int = 64,
                 shuffle: bool = False, generator: torch.Generator | None = None,
                 device: torch.device | str | None = None, transform=None, augment=None):
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} items but y has {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size={batch_size} must be at least 1")
        device = torch.device(device) if device is not None else X.device
        self.X, self.y = X.to(device), y.to(device)
        self.batch_size, self.shuffle = batch_size, shuffle
        self.transform, self.augment = transform, augment
        generator = generator if generator is not None else torch.Generator().manual_seed(0)
        if device.type != "cpu" and generator.device.type == "cpu":
            # draw shuffles and augmentations where the data lives, so that no index
            # tensor crosses from the host each batch; seeded from the given generator
            seed = int(torch.randint(2**62, (1,), generator=generator))
            generator = torch.Generator(device=device).manual_seed(seed)
        self.generator = generator

    def __len__(self) -> int:
        return -(-len(self.X) // self.batch_size)

    @property
    def dataset_size(self) -> int:
        return len(self.X)

    def __iter__(self):
        n = len(self.X)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator, device=self.generator.device)
        else:
            order = None
        for start in range(0, n, self.batch_size):
            idx = slice(start, start + self.batch_size) if order is None else order[start : start + self.batch_size]
            X, y = self.X[idx], self.y[idx]
            if self.transform is not None:
                X = self.transform(X)
            X = self.before_augment(X, idx)
            if self.augment is not None:
                X, y = self.augment(X, y, self.generator)
            yield X, y

    def before_augment(self, X: torch.Tensor, idx) -> torch.Tensor:
        """A hook for subclasses: change the batch ``X`` of the items ``idx`` (a slice or
        an index tensor) after ``transform`` and before ``augment``; here, unchanged."""
        return X


class Standardize:
    """``X -> (X - mean) / std`` with fixed statistics; a batch ``transform``."""

    def __init__(self, mean: float, std: float):
        self.mean, self.std = float(mean), float(std)

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        return (X - self.mean) / self.std

    def __repr__(self) -> str:
        return f"Standardize(mean={self.mean:.4f}, std={self.std:.4f})"


def standardize(X_train: torch.Tensor) -> Standardize:
    """A transform that standardises with the mean and std of ``X_train`` (never of
    validation or test data, which must stay unseen)."""
    return Standardize(X_train.mean(), X_train.std())


def class_weights(y: torch.Tensor, num_classes: int, power: float = 0.5) -> torch.Tensor:
    """Loss weights for rare classes: ``1 / share ** power`` per class, scaled to mean 1.

    ``share`` is each class's share of the labels ``y`` (pixels, for label maps),
    clamped at 1e-3 so that a class absent from a small sample gets a finite weight.
    ``power`` 0.5 (the default) is the inverse square root of the share, 1 the inverse
    share, 0 equal weights. Returns float32 ``(num_classes,)``.
    """
    if power < 0:
        raise ValueError(f"power={power}: class weights need power >= 0 (0 gives equal weights)")
    share = torch.bincount(y.flatten(), minlength=num_classes).double()
    share /= share.sum()
    weights = 1 / share.clamp_min(1e-3) ** power
    return (weights / weights.mean()).float()

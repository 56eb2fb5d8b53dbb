"""The 5-class facade segmentation set, and a converter from the CMP Facade Database.

Layout read by :func:`load_facades` (the course's "mini facade" set, or a
converted CMP release)::

    <root>/train/<name>.jpg + <name>.png     training (and, without val/, validation:
                                              whole facades, see course_split)
    <root>/val/...                            optional: validation (converted releases)
    <root>/test_dev/...                       test

Photos are 256x256 RGB JPEGs; label maps are PNGs whose pixel values are class
indices 0..4. Where the data is looked for: ``$FACADES_DIR``, then ``data/facades``
in the repository.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import sys
import tempfile
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from tqdm.std import tqdm

from .config import DATA_DIR
from .data import DataError, Splits

CLASSES = ("others", "facade", "pillar", "window", "balcony")
# RGB colour of each class in label-map figures
PALETTE = np.array([[40, 40, 40], [90, 150, 230], [230, 200, 40], [230, 70, 60], [80, 200, 120]],
                   dtype=np.uint8)
DEFAULT_DIR = DATA_DIR / "facades"
ENV_VAR = "FACADES_DIR"
# Evaluation batch size: the fastest on a 2-core CPU in benchmarks/eval_batch.py (a
# 256x256 photo's feature maps are large); any size gives the same outputs (up to rounding).
EVAL_BATCH = 4
# The course set's train/ holds three 256x256 crops of each of 302 facades: photos i,
# i + 302 and i + 604 show the same building (for 97 % of the 906 photos the most similar
# other photo by colour histogram is one of its two siblings; the facade tests
# check it on the data). Validation therefore takes whole facades: the last 36 facades'
# 108 crops, training the other 266 facades' 798. The course's own split (0000..0799 /
# 0800..0905) put each validation facade's two other crops into training.
COURSE_CROPS = 3
COURSE_VAL_FACADES = 36

# CMP Facade Database label values (1..12; 0 = unlabelled) -> the 5 classes here.
# Facade, pillar, window and balcony are kept; everything else becomes "others".
CMP_CLASSES = {0: "unlabelled", 1: "background", 2: "facade", 3: "window", 4: "door",
               5: "cornice", 6: "sill", 7: "balcony", 8: "blind", 9: "deco",
               10: "molding", 11: "pillar", 12: "shop"}
CMP_TO_5 = {value: (CLASSES.index(name) if name in CLASSES else 0)
            for value, name in CMP_CLASSES.items()}
CMP_URLS = {
    "base": "https://cmp.felk.cvut.cz/~tylecr1/facade/CMP_facade_DB_base.zip",
    "extended": "https://cmp.felk.cvut.cz/~tylecr1/facade/CMP_facade_DB_extended.zip",
}

HOW_TO_GET = (
    "To get the data: set FACADES_DIR to a folder holding the course's 5-class set "
    "(train/ and test_dev/), or convert the original CMP Facade Database with "
    "`python -m helpers.facades --download` (or `--from-zips DIR` for zips you "
    "downloaded yourself), which writes data/facades/."
)


def find_facades_dir(root: Path | str | None = None) -> Path:
    """The facade folder: ``root`` if given, else ``$FACADES_DIR`` when it is set (that
    folder alone: a wrong path is an error, never a silent switch to another copy), else
    ``data/facades``."""
    if root is not None:
        candidates, source = [Path(root)], "the folder given"
    elif ENV_VAR in os.environ:
        if not os.environ[ENV_VAR].strip():
            raise DataError(f"{ENV_VAR} is set but empty: set it to the folder holding train/ and test_dev/, "
                            f"or unset it to use the default folder {DEFAULT_DIR}")
        candidates, source = [Path(os.environ[ENV_VAR].strip())], f"{ENV_VAR}"
    else:
        candidates, source = [DEFAULT_DIR], f"{ENV_VAR} is not set, so the default folder"
    for path in candidates:
        if (path / "train").is_dir() and (path / "test_dev").is_dir():
            return path
    looked = ", ".join(str(p) if p.is_absolute() else f"{p} (= {p.resolve()})" for p in candidates)
    hint = ("" if all(p.is_absolute() for p in candidates) else
            f" A relative path is taken from the current folder ({Path.cwd()}; a notebook's kernel runs "
            "in notebooks/): give an absolute one.")
    raise DataError(f"facade data not found: looked for train/ and test_dev/ in {looked} ({source}).{hint} "
                    f"{HOW_TO_GET}")


def read_pair(photo_path: Path, label_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One photo ``(H, W, 3)`` uint8 and its label map ``(H, W)`` uint8, checked.

    Raises :class:`DataError` naming the file when it is unreadable, when the two
    differ in size, or when a label value is outside 0..4.
    """
    arrays = []
    for path, mode in ((photo_path, "RGB"), (label_path, None)):
        try:
            with Image.open(path) as img:
                img.load()
                arrays.append(np.array(img.convert(mode) if mode else img))
        except (OSError, UnidentifiedImageError) as err:
            raise DataError(f"cannot read {path}: {err}") from err
    photo, label = arrays
    if label.ndim != 2:
        raise DataError(f"{label_path} is not a single-channel (palette or gray) label map")
    if photo.shape[:2] != label.shape:
        raise DataError(f"{label_path} is {label.shape[1]}x{label.shape[0]} but its photo "
                        f"{photo_path.name} is {photo.shape[1]}x{photo.shape[0]}")
    if label.max() >= len(CLASSES):
        raise DataError(f"{label_path} holds label value {int(label.max())}; "
                        f"values must be 0..{len(CLASSES) - 1}")
    return photo, label


PHOTO_SUFFIXES = (".jpg", ".jpeg")  # any case: .JPG and .jpeg photos count too


def list_photos(folder: Path) -> list[Path]:
    """The photos of ``folder`` (``*.jpg``/``*.jpeg``, any case), sorted by name.

    Label maps (``*.png``) with no photo beside them are skipped with a warning that
    names them; a folder without photos is a :class:`DataError`.
    """
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    photos = [p for p in files if p.suffix.lower() in PHOTO_SUFFIXES]
    if not photos:
        raise DataError(f"no .jpg photos in {folder}. {HOW_TO_GET}")
    stems = {p.stem for p in photos}
    orphans = [p.name for p in files if p.suffix.lower() == ".png" and p.stem not in stems]
    if orphans:
        shown = ", ".join(orphans[:5]) + (f" and {len(orphans) - 5} more" if len(orphans) > 5 else "")
        warnings.warn(f"{folder}: skipped {len(orphans)} label map(s) with no photo beside them: {shown}",
                      stacklevel=3)
    return photos


def read_photos(photos: list[Path], folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The given photos of ``folder`` and their ``*.png`` label maps: photos
    ``(N, 3, H, W)`` uint8 and labels ``(N, H, W)`` int64. A photo without its label
    map is an error."""
    X, y = [], []
    for photo in photos:
        label = photo.with_suffix(".png")
        if not label.exists():
            raise DataError(f"{photo} has no label map {label.name} beside it")
        img, lab = read_pair(photo, label)
        X.append(torch.from_numpy(img).permute(2, 0, 1))
        y.append(torch.from_numpy(lab.astype(np.int64)))
    try:
        return torch.stack(X), torch.stack(y)
    except RuntimeError as err:
        raise DataError(f"the photos in {folder} differ in size; all must be equal ({err})") from err


def read_folder(folder: Path, limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``limit`` (default: all) photos of ``folder`` (:func:`list_photos`) and
    their label maps, as :func:`read_photos` returns them."""
    return read_photos(list_photos(folder)[:limit], folder)


@dataclass
class FacadeData(Splits):
    """Photos ``(N, 3, H, W)`` uint8 and label maps ``(N, H, W)`` int64 per split, and the
    folder they came from."""

    root: Path
    classes: tuple = CLASSES


def course_split(count: int, folder: Path | str = "train") -> tuple[list[int], list[int]]:
    """Indices of the training and validation photos among the ``count`` sorted photos
    of the course set's ``folder``: ``COURSE_CROPS`` crops per facade, photo ``i`` of
    facade ``i % (count // COURSE_CROPS)``; the last ``COURSE_VAL_FACADES`` facades
    (all their crops) validate, the others train."""
    n_facades = count // COURSE_CROPS
    if count % COURSE_CROPS or n_facades <= COURSE_VAL_FACADES:
        raise DataError(f"{folder} has {count} photos; the course split needs {COURSE_CROPS} crops of each of "
                        f"more than {COURSE_VAL_FACADES} facades (906 in the course set), or a val/ folder "
                        f"beside it holding the validation photos")
    first_val = n_facades - COURSE_VAL_FACADES
    train = [i for i in range(count) if i % n_facades < first_val]
    val = [i for i in range(count) if i % n_facades >= first_val]
    return train, val


def load_facades(root: Path | str | None = None, limit: int | None = None) -> FacadeData:
    """Load the three splits into memory.

    Without a ``val/`` folder (the course set), validation is the ``train/`` crops of
    whole facades (:func:`course_split`), so that no building is in both. ``limit``
    keeps at most that many images per split (smoke runs).
    """
    root = find_facades_dir(root)
    if (root / "val").is_dir():
        X_train, y_train = read_folder(root / "train", limit)
        X_val, y_val = read_folder(root / "val", limit)
    else:
        photos = list_photos(root / "train")
        train_idx, val_idx = course_split(len(photos), root / "train")
        # read only the photos the split keeps (a smoke run's limit reads a few dozen)
        X_train, y_train = read_photos([photos[i] for i in train_idx[:limit]], root / "train")
        X_val, y_val = read_photos([photos[i] for i in val_idx[:limit]], root / "train")
    X_test, y_test = read_folder(root / "test_dev", limit)
    return FacadeData(X_train, y_train, X_val, y_val, X_test, y_test, root)


def scale_photos(X: torch.Tensor) -> torch.Tensor:
    """uint8 photos -> float in [-1, 1), as the course did: pixel / 128 - 1."""
    return X.float().div_(128).sub_(1)


# --- converting the original CMP Facade Database -------------------------------------

def _cmp_pairs(zip_path: Path):
    """Yield ``(name, photo bytes, label bytes)`` for each facade in a CMP zip."""
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        for name in sorted(n for n in names if n.endswith(".jpg")):
            label = name[:-4] + ".png"
            if label in names:
                yield Path(name).stem, zf.read(name), zf.read(label)


def convert_cmp_label(label: np.ndarray) -> np.ndarray:
    """Map CMP label values (0..12) to the 5 classes; an unknown value is an error."""
    lut = np.zeros(256, dtype=np.uint8)
    for value, cls in CMP_TO_5.items():
        lut[value] = cls
    unknown = np.setdiff1d(np.unique(label), list(CMP_TO_5))
    if unknown.size:
        raise ValueError(f"label values {unknown.tolist()} are not CMP classes 0..12")
    return lut[label]


def convert_cmp(zips, out_dir: Path | str = DEFAULT_DIR, size: int = 256, seed: int = 0,
                val_fraction: float = 0.15, test_fraction: float = 0.15) -> Path:
    """Convert CMP Facade Database zips into the 5-class layout at ``size`` x ``size``.

    Photos are resized bilinearly, label maps by nearest neighbour. A seeded shuffle
    splits the facades into ``train/``, ``val/`` and ``test_dev/``. Everything is
    written into a temporary folder that is renamed to ``out_dir`` only when complete.
    Numbers on a converted release are not comparable with the course set's test_dev.
    """
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise FileExistsError(f"{out_dir} already exists; remove it to convert again")
    items = []
    for zip_path in map(Path, zips):
        try:
            items += list(_cmp_pairs(zip_path))
        except (OSError, zipfile.BadZipFile) as err:
            raise DataError(f"cannot read {zip_path}: {err}; download it again") from err
    if not items:
        raise DataError(f"no CMP facades (NAME.jpg + NAME.png) found in {', '.join(map(str, zips))}")
    order = np.random.default_rng(seed).permutation(len(items))
    n_test = round(len(items) * test_fraction)
    n_val = round(len(items) * val_fraction)
    splits = {"test_dev": order[:n_test], "val": order[n_test:n_test + n_val],
              "train": order[n_test + n_val:]}
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".facades-", dir=out_dir.parent))
    try:
        for split, indices in splits.items():
            (tmp / split).mkdir()
            for k, i in enumerate(tqdm(indices, desc=f"convert {split}")):
                name, photo_bytes, label_bytes = items[i]
                try:
                    photo = Image.open(io.BytesIO(photo_bytes)).convert("RGB")
                    label = np.asarray(Image.open(io.BytesIO(label_bytes)))
                    label = convert_cmp_label(label)
                except (OSError, UnidentifiedImageError, ValueError) as err:
                    raise DataError(f"cannot convert facade {name}: {err}") from err
                photo = photo.resize((size, size), Image.BILINEAR)
                label_img = Image.fromarray(label, mode="L").resize((size, size), Image.NEAREST)
                label_img = label_img.convert("P")
                label_img.putpalette(PALETTE.ravel().tolist())
                stem = f"cmp_{k:04d}_{name}"
                photo.save(tmp / split / f"{stem}.jpg", quality=95)
                label_img.save(tmp / split / f"{stem}.png")
        os.replace(tmp, out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return out_dir


def download(url: str, target: Path) -> Path:
    """Download ``url`` to ``target`` with a progress bar; check the zip is whole.

    The file is written under a temporary name and renamed when complete, so a failed
    download leaves nothing behind. Its SHA-256 is printed for the record.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        with zipfile.ZipFile(partial) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise DataError(f"{url}: member {bad} is corrupt")
        os.replace(partial, target)
    except (OSError, zipfile.BadZipFile) as err:
        raise DataError(f"download of {url} failed: {err}. {HOW_TO_GET}") from err
    finally:
        partial.unlink(missing_ok=True)
    print(f"{target}: sha256 {digest.hexdigest()}")
    return target


def download_and_convert(out_dir: Path | str = DEFAULT_DIR, zip_dir: Path | str | None = None) -> Path:
    """Get the CMP release (zips in ``zip_dir``, else downloaded) and convert it."""
    zip_dir = Path(zip_dir) if zip_dir else DATA_DIR / "cmp_zips"
    zips = []
    for url in CMP_URLS.values():
        path = zip_dir / url.rsplit("/", 1)[1]
        zips.append(path if path.exists() else download(url, path))
    return convert_cmp(zips, out_dir)


def ensure_facades() -> Path:
    """The set-up step shared by ``make run`` and ``make test``: the facade folder, got
    the way the notebooks look for it. ``$FACADES_DIR`` when set (that folder alone),
    else ``data/facades``, else the CMP release downloaded and converted into it.
    Raises :class:`DataError` with one message saying where it looked and how to fix it."""
    if ENV_VAR in os.environ or DEFAULT_DIR.is_dir():
        return find_facades_dir()
    print(f"{ENV_VAR} is not set and {DEFAULT_DIR} does not exist: converting the CMP Facade Database")
    try:
        return download_and_convert(DEFAULT_DIR)
    except DataError as err:
        raise DataError(
            f"facade data not found: {ENV_VAR} is not set, {DEFAULT_DIR} does not exist, and getting the CMP "
            f"release failed ({err.__cause__ or err}). Fix it one of two ways: set {ENV_VAR} to a folder holding the "
            "course's set (train/ and test_dev/), e.g. `FACADES_DIR=/path/to/facades make test`; or download "
            f"the two CMP zips ({', '.join(CMP_URLS.values())}) by hand and run "
            "`python -m helpers.facades --from-zips DIR`.") from None


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Find the facade set, or build data/facades from the CMP "
                                                 "Facade Database.")
    parser.add_argument("--ensure", action="store_true",
                        help="find the set ($FACADES_DIR, else data/facades), else download and convert CMP")
    parser.add_argument("--download", action="store_true", help="download the two CMP zips first")
    parser.add_argument("--from-zips", metavar="DIR", help="folder holding the two CMP zips")
    parser.add_argument("--out", default=str(DEFAULT_DIR), help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    if not (args.ensure or args.download or args.from_zips):
        parser.error("give --ensure, --download or --from-zips DIR")
    try:
        folder = ensure_facades() if args.ensure else download_and_convert(args.out, args.from_zips)
    except (DataError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"facades: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

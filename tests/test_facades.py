import io
import os
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import facades
from helpers.data import DataError

from tiny_data import write_facade


def test_load_tiny_set_with_val_folder(tiny_facades):
    d = facades.load_facades(tiny_facades)
    assert d.X_train.shape == (6, 3, 32, 32) and d.X_train.dtype == torch.uint8
    assert d.y_train.shape == (6, 32, 32) and d.y_train.dtype == torch.int64
    assert len(d.X_val) == 3 and len(d.X_test) == 2
    assert int(d.y_train.max()) <= 4
    assert d.classes == ("others", "facade", "pillar", "window", "balcony")


def test_course_split_without_val_folder(tmp_path, monkeypatch):
    root = tmp_path / "course"
    # 4 facades x 3 crops: photo i shows facade i % 4; the last facade (3, 7, 11) validates
    labels = [write_facade(root / "train", f"eecs442_{i:04d}", seed=i)[1] for i in range(12)]
    write_facade(root / "test_dev", "eecs442_0000")
    monkeypatch.setattr(facades, "COURSE_VAL_FACADES", 1)
    d = facades.load_facades(root)
    assert (len(d.X_train), len(d.X_val), len(d.X_test)) == (9, 3, 1)
    for k, i in enumerate((3, 7, 11)):
        assert np.array_equal(d.y_val[k].numpy(), labels[i])
    assert np.array_equal(d.y_train[3].numpy(), labels[4])  # training skips photo 3


def test_course_split_keeps_each_facade_on_one_side():
    train, val = facades.course_split(906)
    assert (len(train), len(val)) == (798, 108)
    assert sorted(train + val) == list(range(906))
    assert {i % 302 for i in train}.isdisjoint({i % 302 for i in val})
    assert val[:3] == [266, 267, 268] and val[-1] == 905


@pytest.mark.parametrize("count", [905, 105])
def test_course_split_rejects_a_folder_it_cannot_split(count):
    with pytest.raises(DataError, match=rf"train has {count} photos; the course split needs 3 crops .* or a val/ folder"):
        facades.course_split(count, "train")


def _colour_histograms(photos):
    hists = []
    for path in photos:
        rgb = np.asarray(Image.open(path).convert("RGB")) // 32  # 8 levels per channel
        h = np.bincount((rgb[..., 0] * 64 + rgb[..., 1] * 8 + rgb[..., 2]).ravel(), minlength=512)
        hists.append(h / h.sum())
    return np.stack(hists)


@pytest.mark.skipif(not os.environ.get("FACADES_DIR"), reason="needs the course set (FACADES_DIR)")
def test_course_set_holds_three_crops_per_facade():
    """The assumption course_split rests on, checked on the data: photos i, i + 302 and
    i + 604 show one building, so each photo's most similar other photo (colour
    histogram intersection) is nearly always one of its two siblings; and test_dev holds
    other buildings: a test photo's nearest training photo is no closer than a training
    photo's nearest photo of another facade."""
    root = facades.find_facades_dir()
    if (root / "val").is_dir():
        pytest.skip("a converted release with its own val/ folder, not the course set")
    H = _colour_histograms(facades.list_photos(root / "train"))
    n, idx = len(H) // facades.COURSE_CROPS, np.arange(len(H))  # photo i shows facade i % n
    nearest, sibling_sim, other_sim = [], [], []
    for i in range(len(H)):
        sim = np.minimum(H[i], H).sum(1)
        sim[i] = -1
        nearest.append(np.argmax(sim))
        same = (idx - i) % n == 0
        sibling_sim.append(sim[same].max())
        other_sim.append(sim[~same].max())
    offset = (np.array(nearest) - idx) % n
    # 97 % on the course set; one facade off is chance level
    assert (offset == 0).mean() > 0.9, f"only {(offset == 0).mean():.0%} of the photos' nearest photo is a sibling"
    assert (offset == 1).mean() < 0.05
    T = _colour_histograms(facades.list_photos(root / "test_dev"))
    test_sim = [np.minimum(t, H).sum(1).max() for t in T]
    # medians on the course set: siblings 0.95, another facade 0.75, test to training 0.75
    assert np.median(test_sim) < np.median(sibling_sim) - 0.1
    assert np.median(test_sim) <= np.median(other_sim) + 0.02


def test_env_var_then_default(tiny_facades, monkeypatch, tmp_path):
    monkeypatch.setenv("FACADES_DIR", str(tiny_facades))
    assert facades.find_facades_dir() == tiny_facades
    monkeypatch.delenv("FACADES_DIR")
    monkeypatch.setattr(facades, "DEFAULT_DIR", tiny_facades)
    assert facades.find_facades_dir() == tiny_facades
    monkeypatch.setattr(facades, "DEFAULT_DIR", tmp_path / "default")
    with pytest.raises(DataError) as err:
        facades.find_facades_dir()
    message = str(err.value)
    assert str(tmp_path / "default") in message and "FACADES_DIR is not set" in message
    assert "python -m helpers.facades --download" in message
    assert "relative path" not in message


def test_relative_env_var_is_resolved_in_the_message(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FACADES_DIR", "../nowhere/facades")
    monkeypatch.setattr(facades, "DEFAULT_DIR", tmp_path / "default")
    with pytest.raises(DataError) as err:
        facades.find_facades_dir()
    message = str(err.value)
    assert f"../nowhere/facades (= {tmp_path.parent / 'nowhere' / 'facades'})" in message
    assert f"A relative path is taken from the current folder ({tmp_path}" in message


def test_label_out_of_range_is_named(tmp_path):
    write_facade(tmp_path / "s", "bad", label_max=7, seed=1)
    with pytest.raises(DataError, match=r"bad\.png holds label value 7"):
        facades.read_folder(tmp_path / "s")


def test_size_mismatch_is_named(tmp_path):
    write_facade(tmp_path / "s", "odd")
    Image.fromarray(np.zeros((16, 32), np.uint8)).save(tmp_path / "s" / "odd.png")
    with pytest.raises(DataError, match=r"odd\.png is 32x16 but its photo odd\.jpg is 32x32"):
        facades.read_folder(tmp_path / "s")


def test_unreadable_file_is_named(tmp_path):
    write_facade(tmp_path / "s", "broken")
    (tmp_path / "s" / "broken.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=r"cannot read .*broken\.jpg"):
        facades.read_folder(tmp_path / "s")


def test_missing_label_is_named(tmp_path):
    write_facade(tmp_path / "s", "lonely")
    (tmp_path / "s" / "lonely.png").unlink()
    with pytest.raises(DataError, match=r"lonely\.jpg has no label map lonely\.png"):
        facades.read_folder(tmp_path / "s")


def test_scaling_matches_the_course():
    X = torch.tensor([0, 128, 255], dtype=torch.uint8)
    assert facades.scale_photos(X).tolist() == [-1.0, 0.0, 255 / 128 - 1]


def _png(array, palette=True):
    img = Image.fromarray(array.astype(np.uint8), mode="L")
    if palette:
        img = img.convert("P")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _jpg(h, w):
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), 100, np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


def make_cmp_zip(path, folder, values, size=(40, 30)):
    """A CMP-style zip: each facade a photo and a label map filled with one CMP value."""
    with zipfile.ZipFile(path, "w") as zf:
        for i, value in enumerate(values):
            name = f"{folder}/cmp_{folder[0]}{i + 1:04d}"
            zf.writestr(f"{name}.jpg", _jpg(*size))
            zf.writestr(f"{name}.png", _png(np.full(size, value)))
            zf.writestr(f"{name}.xml", "<object/>")
    return path


def test_cmp_mapping_is_written_down_once():
    assert facades.CMP_TO_5 == {0: 0, 1: 0, 2: 1, 3: 3, 4: 0, 5: 0, 6: 0, 7: 4, 8: 0, 9: 0,
                                10: 0, 11: 2, 12: 0}


def test_convert_cmp_release(tmp_path):
    base = make_cmp_zip(tmp_path / "base.zip", "base", range(1, 13))
    extended = make_cmp_zip(tmp_path / "ext.zip", "extended", [11, 7, 3, 2, 1, 12, 9, 11], size=(20, 50))
    out = facades.convert_cmp([base, extended], tmp_path / "out", size=16, seed=0)
    counts = {s: len(list((out / s).glob("*.jpg"))) for s in ("train", "val", "test_dev")}
    assert counts == {"train": 14, "val": 3, "test_dev": 3}  # 20 facades, 15 % + 15 %
    d = facades.load_facades(out)
    assert d.X_train.shape[1:] == (3, 16, 16)
    # each CMP facade was filled with one value: its converted map holds the mapped class
    for png in (out / "train").glob("*.png"):
        stem = png.stem.split("_", 2)[2]  # cmp_KKKK_<original name>
        folder = "base" if stem.startswith("cmp_b") else "extended"
        values = list(range(1, 13)) if folder == "base" else [11, 7, 3, 2, 1, 12, 9, 11]
        original = values[int(stem[-4:]) - 1]
        assert set(np.unique(np.asarray(Image.open(png)))) == {facades.CMP_TO_5[original]}
    # seeded: the same split again
    again = facades.convert_cmp([base, extended], tmp_path / "again", size=16, seed=0)
    assert sorted(p.name for p in (again / "val").iterdir()) == sorted(p.name for p in (out / "val").iterdir())


def test_convert_cmp_bad_label_leaves_nothing_behind(tmp_path):
    bad = make_cmp_zip(tmp_path / "bad.zip", "base", [2, 13, 3])
    with pytest.raises(DataError, match="cannot convert facade cmp_b0002"):
        facades.convert_cmp([bad], tmp_path / "out", size=16)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.zip"]


def test_convert_cmp_not_a_zip_is_named(tmp_path):
    (tmp_path / "broken.zip").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"cannot read .*broken\.zip"):
        facades.convert_cmp([tmp_path / "broken.zip"], tmp_path / "out")

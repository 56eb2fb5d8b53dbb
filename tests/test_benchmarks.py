"""The benchmark scripts run end to end in a tiny configuration (no timing is asserted)."""
import ast
import dataclasses
import importlib.util
import json
import re
import sys

import numpy as np
import pytest
import torch

from helpers import augment, config, data, facades, training

BENCH = config.REPO_ROOT / "benchmarks"


def _load(name):
    sys.path.insert(0, str(BENCH))
    try:
        if name in sys.modules and getattr(sys.modules[name], "__file__", None) == str(BENCH / f"{name}.py"):
            return sys.modules[name]
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def test_speed_benchmark_tiny(tmp_path, debian_fashion, tiny_facades, capsys):
    out = tmp_path / "results.json"
    _load("speed").main(["--tiny", "--out", str(out), "--fashion-root", str(tmp_path / "root"),
                         "--debian-dir", str(debian_fashion), "--facades-dir", str(tiny_facades)])
    result = json.loads(out.read_text())
    assert {"cpu", "cores", "torch", "rows"} <= result.keys()
    rows = result["rows"]
    assert {(r["model"], r["pipeline"], r["phase"]) for r in rows} == {
        (m, p, ph) for m in ("report_cnn", "report_segnet") for p in ("dataloader", "in-memory")
        for ph in ("train", "eval")}
    ablations = {r["ablation"] for r in rows if "ablation" in r}
    assert ablations == {"ReLU before pool", "unfused Adam"}  # fused Adam runs on this CPU
    assert len(rows) == 16
    for row in rows:
        assert {"model", "pipeline", "precision", "phase", "samples_per_s"} <= row.keys()
        assert row["samples_per_s"] > 0 and row["precision"] in ("fp32", "bf16")
        assert len(row["round_samples_per_s"]) == (2 if row["phase"] == "train" else 1)
        low, high = row["speedup_range_over_rounds"]
        assert low <= high
    assert "speed-up against the standard fp32 DataLoader" in capsys.readouterr().out


def test_recipes_tiny(tmp_path, debian_fashion, tiny_facades, capsys):
    """Three seeds and every ablation of both strong recipes run end to end, the tables
    and the plot are drawn from the JSON, and a seed repeats its numbers exactly."""
    recipes, tables, common = _load("recipes"), _load("tables"), _load("common")
    out = tmp_path / "recipes.json"
    argv = ["--tiny", "--out", str(out), "--fashion-root", str(tmp_path / "root"),
            "--debian-dir", str(debian_fashion), "--facades-dir", str(tiny_facades), "--precision", "fp32"]
    rows = recipes.main(argv + ["--tradeoffs", "--before-flip"])
    result = json.loads(out.read_text())
    assert result["tiny"] and set(result["recipes"]) == {"strong_cnn", "unet"}
    for model, seed_variants in (("strong_cnn", ["held-out fit", "final recipe"]), ("unet", ["final recipe"])):
        variants = [r["variant"] for r in result["rows"] if r["model"] == model]
        seed0 = next(r for r in result["rows"] if r["model"] == model and r["seed"] == 0)
        # the TTA ablation exists only where validation kept TTA for the seed-0 model (of the held-out fit)
        levers = [lever for lever, _ in recipes.LEVERS[model] if lever != "flip TTA" or seed0["flip_tta"]]
        assert variants == (seed_variants * 3 + [f"without {lever}" for lever in levers]
                            + [f"with {name}" for name, _ in recipes.ALTERNATIVES[model]]
                            + [f"with {name}" for name, _ in recipes.TRADEOFFS[model]]
                            + [recipes.BEFORE_FLIP + name for name in recipes.BEFORE_FLIP_VARIANTS.get(model, [])])
    for r in rows:
        # the strong CNN's final recipe is a final fit, which trained on the validation images: no validation
        # score, no TTA; its held-out fit and every ablation are the held-out recipe, 8 epochs in the notebooks
        final_fit = "final fit" in r["variant"] or (r["model"], r["variant"]) == ("strong_cnn", "final recipe")
        assert r["epochs"] == 1 and r["train_seconds"] > 0 and 0 <= r["test"] <= 1
        assert (r["val"] is None) == final_fit, r["variant"]
        measured_tta = recipes.yardstick(common.RECIPES[r["model"]])[1].flip_tta
        assert (r["val_tta"] is None) == (not measured_tta or "flip TTA" in r["variant"] or final_fit)
    assert recipes.yardstick(common.RECIPES["strong_cnn"])[1].epochs == 8 and common.RECIPES["strong_cnn"].epochs == 7
    printed = capsys.readouterr().out
    assert "without label smoothing" in printed
    for model, measured in (("strong_cnn", "held-out fit"), ("unet", "final recipe")):
        # the TTA ablation rescores the measured seed-0 model, training nothing new
        base, no_tta = (next((r for r in rows if r["model"] == model and r["variant"] == v and r["seed"] == 0), None)
                        for v in (measured, "without flip TTA"))
        if not base["flip_tta"]:
            assert no_tta is None and f"{model:<10} without flip TTA" in printed
            continue
        assert no_tta["test"] == base["test_plain"] and no_tta["train_seconds"] == base["train_seconds"]
        assert not no_tta["flip_tta"] and no_tta["derived_from"] == f"{measured}, seed 0"
    again = recipes.main(argv[:-2] + ["--precision", "fp32", "--models", "unet", "--seeds", "0", "--no-ablations"])
    first = next(r for r in rows if r["model"] == "unet" and r["seed"] == 0)
    assert (again[0]["val"], again[0]["test"]) == (first["val"], first["test"])
    # --merge redoes one model's seed and keeps every other row; what an earlier file lacked stays listed
    out.write_text(json.dumps(result))
    merged_rows = recipes.main(argv[:-2] + ["--precision", "fp32", "--models", "unet", "--seeds", "0",
                                            "--no-ablations", "--merge"])
    merged = json.loads(out.read_text())
    labels = lambda rs: sorted(recipes.job_label(r["model"], r["variant"], r["seed"]) for r in rs)
    assert labels(merged["rows"]) == labels(result["rows"]) and len(merged_rows) == 1
    assert [r["model"] for r in merged["rows"]] == sorted((r["model"] for r in merged["rows"]), key=recipes.STRONG.index)
    assert merged["complete"] and merged["missing"] == [] and len(merged["history"]) == 2
    # each row names its run: the redone seed is the second run's, every kept row the first's
    assert {(r["model"], r["variant"], r["seed"], r["run"]) for r in merged["rows"] if r["run"] == 1} == {
        ("unet", "final recipe", 0, 1)} and all(r["run"] == 0 for r in result["rows"])
    # --only redoes the rows whose variant it names, and only those
    only = recipes.main(argv[:-2] + ["--precision", "fp32", "--models", "strong_cnn", "--seeds", "0",
                                     "--only", "80 %", "--only", "8 epochs", "--merge"])
    assert [r["variant"] for r in only] == ["with 80 % of the training images", "with training + validation "
                                            "images for 8 epochs (the final fit, a seventh more steps)"]
    assert {r["run"] for r in only} == {2}
    assert labels(json.loads(out.read_text())["rows"]) == labels(result["rows"])
    with pytest.raises(SystemExit):
        recipes.main(argv[:-2] + ["--only", "no such variant", "--merge"])
    out.write_text(json.dumps(dict(merged, tiny=False)))
    table = tables.recipes_table(tmp_path)
    assert "more than one run" in table and "A: strong_cnn, unet" in table and "B: unet" in table
    assert "| 0, 1, 2 |" in table and table.count(" B |") == 1 and " B, A, A |" in table
    final_row = next(line for line in table.splitlines() if line.startswith("| strong_cnn, final fit: the notebook's"))
    # the final fit applies the mirror its held-out fits kept (the recipe says so: a final fit cannot decide)
    assert "| none (trained on it) |" in final_row and "applied (its held-out fits kept it)" in final_row
    older = dict(result, complete=False, rows=[r for r in result["rows"]
                                                if not (r["model"] == "unet" and r["variant"] == "with twice the epochs")])
    older.pop("missing")
    assert recipes._earlier_missing(older) == ["unet with twice the epochs seed 0"]
    out.write_text(json.dumps(older))
    recipes.main(argv[:-2] + ["--precision", "fp32", "--models", "strong_cnn", "--seeds", "0", "--no-ablations",
                              "--merge"])
    assert json.loads(out.read_text())["missing"] == ["unet with twice the epochs seed 0"]
    out.write_text(json.dumps(dict(json.loads(out.read_text()), tiny=False)))
    assert "not run: unet with twice the epochs seed 0." in tables.recipes_table(tmp_path)
    out.write_text(json.dumps(dict(result, tiny=False)))
    with pytest.raises(SystemExit):  # tiny rows never mix with real ones
        recipes.main(argv[:-2] + ["--models", "unet", "--seeds", "0", "--no-ablations", "--merge"])
    out.write_text(json.dumps(result))
    # a tiny run is not shown as a result; a real one is, with its plot
    assert "No recipe runs yet" in tables.recipes_table(tmp_path)
    real = dict(result, tiny=False)
    (tmp_path / "recipes.json").write_text(json.dumps(real))
    table = tables.recipes_table(tmp_path)
    assert "| strong_cnn, held-out fit (accuracy; what validation reads) | 0, 1, 2 |" in table
    assert "| strong_cnn, final fit: the notebook's model (accuracy) | 0, 1, 2 | none (trained on it) |" in table
    assert "| unet (mean AP) | 0, 1, 2 |" in table and "| unet | without class weights |" in table
    assert ("| strong_cnn | with training + validation images for 8 epochs (the final fit, a seventh more steps) | "
            "none (trained on it) |  |  |") in table
    # a final fit with the mirror its held-out fits kept says so where validation would be
    assert ("| strong_cnn | with pooling first, as the final fit (training + validation images, 7 epochs) | "
            "none (trained on it; mirror applied) |") in table
    # the recipe before the flip has its own table, each row against its held-out fit ("without flip
    # augmentation"); its final fits went without the mirror, as its held-out fits had turned it down
    former = table[table.index("| model | recipe before the flip |"):]
    base_val = next(r for r in real["rows"] if r["variant"] == "without flip augmentation")
    smooth = next(r for r in real["rows"] if r["variant"] == recipes.BEFORE_FLIP + "without label smoothing")
    change = tables.METRIC["strong_cnn"][2](tables._chosen_val(smooth) - tables._chosen_val(base_val))
    assert f"| strong_cnn | without label smoothing | " in former and f"| {change} | {change} |" in former
    assert "| strong_cnn | final fit | none (trained on it) |" in former
    assert former.index("| held-out fit |") < former.index("| final fit |") < former.index("without label smoothing")
    ablations = table[table.index("Ablations"):]
    assert "| strong_cnn | held-out fit |" in ablations and "| strong_cnn | final recipe |" not in ablations
    main_rows = ablations[:ablations.index("The strong_cnn's recipe before the flip:")]
    assert "before the flip" not in main_rows and "| strong_cnn | without flip augmentation |" in main_rows
    assert result["complete"] and "Incomplete" not in table
    (tmp_path / "recipes.json").write_text(json.dumps(dict(real, complete=False)))
    assert "**Incomplete run**" in tables.recipes_table(tmp_path)
    (tmp_path / "recipes.json").write_text(json.dumps(real))
    assert tables.recipes_plot(tmp_path).stat().st_size > 0
    # every ablation row carries its work against the measured recipe's (counted, not timed)
    assert re.search(r"\| strong_cnn \| with 80 % of the training images \| .* \| 0\.80x \|", ablations)
    assert re.search(r"\| unet \| with twice the epochs \| .* \| 2\.00x \|", ablations)
    # a variant run over more seeds is one row: the mean and range of its seeds, compared with the seeds' mean
    row = next(r for r in real["rows"] if r["variant"] == "with batch 128 (twice the steps)")
    more = [dict(row, seed=seed, val=val, val_tta=None, flip_tta=False, test=test)
            for seed, val, test in ((0, 0.90, 0.91), (1, 0.92, 0.93), (2, 0.94, 0.95))]
    held = [r for r in real["rows"] if r["variant"] == "held-out fit"]
    for r in held:
        r.update(val=0.91, val_tta=None, flip_tta=False)
    (tmp_path / "recipes.json").write_text(json.dumps(dict(real, rows=[r for r in real["rows"] if r is not row] + more)))
    table = tables.recipes_table(tmp_path)
    assert ("| strong_cnn | with batch 128 (twice the steps), seeds 0, 1, 2 | 92.00 % (90.00 % to 94.00 %) | -1.00 pt (seed 0's) | "
            "+1.00 pt | 93.00 % (91.00 % to 95.00 %) |") in table
    assert tables.recipes_plot(tmp_path).stat().st_size > 0
    # seeds that agree exactly: their mean can round past their max, and the range bar must still draw
    same = [dict(r, train_seconds=0.1, test=0.1) for r in more]
    assert np.mean([0.1] * 3) > 0.1 and tables._range_bar([0.1] * 3, float(np.mean([0.1] * 3)))[1] == [0.0]
    assert tables._range_bar([1.0, 2.0, 4.0], 2.0) == [[1.0], [2.0]]
    (tmp_path / "recipes.json").write_text(json.dumps(dict(real, rows=[r for r in real["rows"] if r is not row] + same)))
    assert tables.recipes_plot(tmp_path).stat().st_size > 0
    with pytest.raises(SystemExit):
        recipes.main(["--tiny", "--models", "report_cnn"])  # not one of the strong models
    with pytest.raises(SystemExit):
        recipes.main(["--tiny", "--seeds", "0,x"])


def test_op_profile_tiny(tmp_path, capsys):
    """One profiled step per model: rows sorted by time, shares add up to the whole."""
    out = tmp_path / "ops.json"
    result = _load("profile_ops").main(["--steps", "1", "--top", "3", "--out", str(out)])
    assert json.loads(out.read_text()) == result
    assert set(result["models"]) == {"report_cnn", "report_segnet"}
    cnn = result["models"]["report_cnn"]
    assert cnn["batch_shape"] == [64, 1, 28, 28] and cnn["steps"] == 1
    for res in result["models"].values():
        ops = res["ops"]
        assert len(ops) == 4 and ops[-1]["op"] == "(all other operators)"
        assert [o["ms_per_step"] for o in ops[:3]] == sorted((o["ms_per_step"] for o in ops[:3]), reverse=True)
        assert abs(sum(o["share"] for o in ops) - 1) < 1e-3
        assert res["wall_ms_per_step"] > 0 and res["profiled_ms_per_step"] > 0
    # the CNN's convolutions are among its top three operators on any device
    assert any("convolution" in o["op"] for o in cnn["ops"][:3])
    assert "ms per training step" in capsys.readouterr().out


def test_op_profile_rejects_unknown_model(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        _load("profile_ops").main(["--models", "report_cnn,resnet", "--out", str(tmp_path / "o.json")])
    assert info.value.code == 2
    assert "--models: unknown resnet; choose from report_cnn, report_segnet" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_eval_batch_sweep_tiny(tmp_path, capsys):
    """One pass per batch size: every size measured, one fastest and one notebooks' size per model."""
    out = tmp_path / "eval_batch.json"
    result = _load("eval_batch").main(["--rounds", "1", "--images", "4", "--models", "report_cnn,report_segnet",
                                       "--out", str(out)])
    assert json.loads(out.read_text()) == result
    rows = result["rows"]
    assert [r["batch_size"] for r in rows if r["model"] == "report_cnn"] == [64, 128, 256, 512, 1000]
    assert [r["batch_size"] for r in rows if r["model"] == "report_segnet"] == [1, 2, 4, 8, 16]
    for model in ("report_cnn", "report_segnet"):
        mine = [r for r in rows if r["model"] == model]
        assert sum(r["best"] for r in mine) == 1
        assert max(mine, key=lambda r: r["samples_per_s"])["best"]
        assert [r["batch_size"] for r in mine if r["notebooks"]] == [
            data.EVAL_BATCH if model == "report_cnn" else facades.EVAL_BATCH]
        assert all(r["samples_per_s"] > 0 and len(r["round_samples_per_s"]) == 1 for r in mine)
    assert "the notebooks use this size" in capsys.readouterr().out


def test_eval_batch_rejects_bad_arguments(tmp_path, capsys):
    for args, message in ((["--models", "vgg"], "--models: unknown vgg"), (["--rounds", "0"], "--rounds=0"),
                          (["--images", "0"], "--images=0")):
        with pytest.raises(SystemExit) as info:
            _load("eval_batch").main([*args, "--out", str(tmp_path / "o.json")])
        assert info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_gpu_check_runs_on_the_cpu(tmp_path, debian_fashion, capsys):
    """The GPU check's CPU rehearsal: every notebook model timed in each precision asked,
    the fp16 path with its scaler included, and the report CNN trained end to end from a
    folder of the four .gz files (as the GPU machine gets them)."""
    out = tmp_path / "gpu.json"
    result = _load("gpu_check").main(["--device", "cpu", "--tiny", "--precisions", "fp32,fp16",
                                      "--fashion-dir", str(debian_fashion), "--fashion-root", str(tmp_path / "fm"),
                                      "--out", str(out)])
    assert json.loads(out.read_text()) == result
    assert result["fast_path"]["device"] == "cpu" and result["fast_path"]["device_name"]
    assert result["fast_path"]["precision"] in ("fp32", "bf16") and result["fast_path"]["reason"]
    rows = result["throughput"]
    assert [(r["model"], r["precision"]) for r in rows] == [
        (m, p) for m in ("report_cnn", "strong_cnn", "report_segnet", "unet") for p in ("fp32", "fp16")]
    assert all(r["train_samples_per_s"] > 0 for r in rows)
    run = result["report_cnn_10_epochs"]
    assert run["epochs"] == 1 and run["train_images"] == 25 and 0 <= run["test_accuracy"] <= 1
    assert "training samples/s" in capsys.readouterr().out


def test_gpu_check_precisions_on_each_device(monkeypatch):
    gpu_check = _load("gpu_check")
    t4 = config.FastPath(device=torch.device("cuda"), capability=(7, 5))
    a100 = config.FastPath(device=torch.device("cuda"), capability=(8, 0))
    assert gpu_check.supported_precisions(t4) == ["fp32", "fp16"]  # never bf16 on a T4
    assert gpu_check.supported_precisions(a100) == ["fp32", "fp16", "bf16"]
    monkeypatch.setattr(config, "cpu_has_bf16", lambda: False)
    assert gpu_check.supported_precisions(config.plain_path("cpu")) == ["fp32"]


def test_benchmarks_accept_the_notebooks_precisions(tmp_path, capsys):
    """Every benchmark script takes --precision auto/fp32/bf16/fp16 and rejects others."""
    with pytest.raises(SystemExit) as info:
        _load("eval_batch").main(["--precision", "fp8", "--out", str(tmp_path / "o.json")])
    assert info.value.code == 2 and "--precision: invalid choice: 'fp8'" in capsys.readouterr().err
    result = _load("eval_batch").main(["--precision", "fp16", "--rounds", "1", "--images", "2",
                                       "--models", "report_cnn", "--out", str(tmp_path / "o.json")])
    assert result["precision"] == "fp16"


def _notebook_constants(name):
    """The UPPER_CASE constants a notebook's code cells assign, as a full run sets them
    (``X = 1 if SMOKE else 10`` -> 10), and the source of all its code cells."""
    nb = json.loads((config.REPO_ROOT / "notebooks" / name).read_text())
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    source = "\n".join(line for line in source.splitlines() if not line.startswith("%"))  # IPython magics
    constants = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            names = [target] if isinstance(target, ast.Name) else list(getattr(target, "elts", []))
            values = [value] if isinstance(target, ast.Name) else list(getattr(value, "elts", []))
            for t, v in zip(names, values):
                if isinstance(t, ast.Name) and t.id.isupper():
                    v = v.orelse if isinstance(v, ast.IfExp) else v
                    try:
                        constants[t.id] = ast.literal_eval(v)
                    except ValueError:
                        pass
    return constants, source


def test_before_flip_rows_are_the_recipe_without_the_flip():
    """The record of the strong CNN's recipe before the flip: each row plans its namesake
    of the recipe without flip augmentation, a final fit also without the mirror (that
    recipe's held-out fits turned it down), a held-out fit still deciding it on validation;
    and its yardstick is the recipe's ablation "without flip augmentation"."""
    recipes, common = _load("recipes"), _load("common")
    recipe = common.RECIPES["strong_cnn"]
    assert recipe.flip and recipe.pad == 0 and recipe.flip_tta  # the recipe took up the flip and the mirror
    current = {v: c for _, v, c, _ in recipes.planned_jobs([recipe], [0], True, True)}
    assert current[recipes.BEFORE_FLIP_BASE] == dataclasses.replace(current["held-out fit"], flip=False)
    jobs = recipes.planned_jobs([recipe], [0, 1], True, False, True)
    former = {v[len(recipes.BEFORE_FLIP):]: c for _, v, c, _ in jobs if v.startswith(recipes.BEFORE_FLIP)}
    assert list(former) == recipes.BEFORE_FLIP_VARIANTS["strong_cnn"]
    assert former["final fit"] == dataclasses.replace(recipe, flip=False, flip_tta=False)
    assert former["without label smoothing"] == dataclasses.replace(current["without label smoothing"], flip=False)
    assert former["without label smoothing"].flip_tta  # a held-out fit: validation decides the mirror
    assert not former["with pooling first, as the final fit (training + validation images, 7 epochs)"].flip_tta
    assert {s for _, v, _, s in jobs if v.startswith(recipes.BEFORE_FLIP)} == {0}  # the first seed, as ablations
    assert not any(v.startswith(recipes.BEFORE_FLIP) for _, v, _, _ in recipes.planned_jobs([recipe], [0], True, True))
    assert recipes.planned_jobs([common.RECIPES["unet"]], [0], True, True, True) == recipes.planned_jobs(
        [common.RECIPES["unet"]], [0], True, True)  # the U-Net has no such record


@pytest.mark.parametrize("recipe_name, notebook, names, optimizer_var", [
    ("report_cnn", "01_classification.ipynb", dict(batch_size="BATCH_SIZE", lr="LR", epochs="EPOCHS"), "optimizer"),
    ("strong_cnn", "01_classification.ipynb", dict(batch_size="STRONG_BATCH", lr="STRONG_LR", epochs="STRONG_EPOCHS",
                                                   weight_decay="WEIGHT_DECAY", label_smoothing="SMOOTHING",
                                                   evals_per_epoch="STRONG_POINTS_PER_EPOCH", flip="STRONG_FLIP",
                                                   pad="STRONG_SHIFT", flip_tta="STRONG_TTA"),
     "strong_optimizer"),
    ("report_segnet", "02_segmentation.ipynb", dict(batch_size="BATCH_SIZE", lr="LR", epochs="EPOCHS",
                                                    weight_decay="WEIGHT_DECAY"), "optimizer"),
    ("unet", "02_segmentation.ipynb", dict(batch_size="UNET_BATCH", lr="UNET_LR", epochs="UNET_EPOCHS",
                                           weight_decay="UNET_WD", eval_every="UNET_EVAL_EVERY"), "unet_optimizer"),
])
def test_benchmark_recipes_are_the_notebooks(recipe_name, notebook, names, optimizer_var):
    """What the benchmarks train is what the notebooks train: every recipe field matches
    the constants in the notebook's cells, and so do the optimizer and its fused flag."""
    recipe = _load("common").RECIPES[recipe_name]
    constants, source = _notebook_constants(notebook)
    for field, constant in names.items():
        assert getattr(recipe, field) == constants[constant], (recipe_name, field)
    line = re.search(rf"^{optimizer_var} = torch\.optim\.(\w+)\((.*)$", source, re.M)
    assert line and line.group(1) == recipe.optimizer
    statement = source[line.start():source.index(")\n", line.start())]
    assert ("fused=fast.fused_optimizer" in statement) == recipe.fused
    if recipe_name == "unet":
        assert recipe.image_shape == (3, constants["CROP"], constants["CROP"])
        assert f"power={recipe.class_weight_power}" in source
    schedule = {"one-cycle": "OneCycleLR", "cosine": "CosineAnnealingLR"}.get(recipe.schedule)
    if schedule:
        assert re.search(rf"^{optimizer_var.replace('optimizer', 'scheduler')} = torch\.optim\.lr_scheduler\.{schedule}\(",
                         source, re.M), (recipe_name, recipe.schedule)
    if not recipe.segmentation:  # training images are augmented exactly where the recipe says so
        loader = {"report_cnn": "train_dataloader", "strong_cnn": "strong_dataloader"}[recipe_name]
        start = source.index(f"{loader} = data.TensorBatches(")
        statement = source[start:source.index(")\n", start)]
        call = re.search(r"augment=augment\.classification_augment\((.*?)\)", statement + ")")
        if recipe.flip or recipe.pad:  # with the constants checked against the recipe above
            assert call and call.group(1) == "pad=STRONG_SHIFT, flip=STRONG_FLIP", (recipe_name, statement)
        else:
            assert "augment=" not in statement, (recipe_name, statement)
    # the notebooks build each model with its defaults (no constructor options)
    assert recipe.model_options == () and re.search(rf"models\.{recipe.model}\((num_classes=len\(classes\))?\)\n", source)
    # the strong CNN is a final fit in both: training + validation images, no validation passes
    final_fit = ("X_fit, y_fit = torch.cat([fashion.X_train, fashion.X_val]), torch.cat([fashion.y_train, fashion.y_val])"
                 in source and "data.TensorBatches(X_fit, y_fit, STRONG_BATCH" in source
                 and "training.train(strong, strong_dataloader, None," in source)
    assert recipe.fit_on_validation == (recipe_name == "strong_cnn" and final_fit), recipe_name
    # flip TTA is decided on validation in the notebook exactly where the recipe asks for it; a final fit
    # cannot decide it (its held-out fits did): its constant, checked above, is what predict is given
    if recipe.fit_on_validation:
        assert "training.predict(strong, test_dataloader, fast, flip_tta=STRONG_TTA)" in source
    else:
        tta_var = {"unet": "unet_tta"}.get(recipe_name)
        assert (tta_var is not None and f"{tta_var} = " in source) == recipe.flip_tta


def test_timed_step_updates_the_weights_as_train_step_does():
    """profile_epoch.py's phase-by-phase copy of the training step is the same step."""
    profile_epoch, common = _load("profile_epoch"), _load("common")
    fast = config.plain_path("cpu")
    recipe = common.RECIPES["report_cnn"]
    (a, opt_a, loss_fn), (b, opt_b, _) = recipe.build(fast), recipe.build(fast)
    X, y = recipe.random_batch(fast, 8)
    for _ in range(2):
        times = profile_epoch.timed_step(a, X, y, loss_fn, opt_a, fast)
        training.train_step(b, X, y, loss_fn, opt_b, fast)
    assert len(times) == 3 and all(t >= 0 for t in times)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)


def test_low_res_first_shrinks_the_first_epochs_only():
    """Progressive resizing: the first ``epochs`` passes yield 20x20 images (the batch's
    mean kept, as bilinear shrinking averages), the later ones the images as they are, in
    the same number of batches; the recipe field turns it on."""
    common = _load("common")
    X, y = torch.rand(10, 1, 28, 28), torch.arange(10)
    batches = common.LowResFirst(data.TensorBatches(X, y, 4), epochs=2, size=20)
    assert len(batches) == 3 and batches.dataset_size == 10
    passes = [list(batches) for _ in range(3)]
    assert [[tuple(Xb.shape[2:]) for Xb, _ in p] for p in passes] == [[(20, 20)] * 3] * 2 + [[(28, 28)] * 3]
    assert torch.equal(passes[2][0][0], X[:4]) and torch.equal(passes[0][0][1], y[:4])
    assert passes[0][0][0].mean().item() == pytest.approx(X[:4].mean().item(), abs=1e-2)
    with pytest.raises(ValueError, match="size=0"):
        common.LowResFirst(batches, 1, 0)
    splits = data.Splits(X, y, X[:2], y[:2], X[:2], y[:2])
    recipe = dataclasses.replace(common.RECIPES["strong_cnn"], low_res_epochs=3)
    train, _, _ = recipe.loaders(splits, config.plain_path("cpu"))
    assert isinstance(train, common.LowResFirst) and (train.epochs, train.size) == (3, 20)
    assert not isinstance(common.RECIPES["strong_cnn"].loaders(splits, config.plain_path("cpu"))[0], common.LowResFirst)


def test_recipe_loaders_take_a_fraction_or_the_validation_images_too():
    """The learning-curve point trains on the first 80 % of the training images (a random
    subset: the split is shuffled), the final fit on training + validation images; the
    validation and test batches stay as they are, and a fraction outside (0, 1] is refused."""
    common = _load("common")
    splits = data.Splits(torch.arange(10.0).view(10, 1, 1, 1), torch.arange(10),
                         torch.full((4, 1, 1, 1), 20.0), torch.full((4,), 1),
                         torch.full((3, 1, 1, 1), 30.0), torch.full((3,), 2))
    recipe = dataclasses.replace(common.RECIPES["strong_cnn"], batch_size=100, fit_on_validation=False)
    fast = config.plain_path("cpu")

    def first_epoch(r):
        train, val, test = r.loaders(splits, fast)
        (X, y), = list(train)
        return sorted(y.tolist()), len(val.X), len(test.X)

    assert first_epoch(recipe) == (list(range(10)), 4, 3)
    assert first_epoch(dataclasses.replace(recipe, train_fraction=0.8)) == (list(range(8)), 4, 3)
    assert first_epoch(dataclasses.replace(recipe, fit_on_validation=True)) == (sorted(list(range(10)) + [1] * 4), 4, 3)
    with pytest.raises(ValueError, match="train_fraction=1.5"):
        dataclasses.replace(recipe, train_fraction=1.5).loaders(splits, fast)


def test_step_flops_match_a_hand_count_of_the_report_cnn():
    """Recipe.step_flops counts two operations per multiply-add: the forward pass, the
    weight gradients (as many again) and the input gradients of every layer but the first
    (whose input needs none)."""
    common = _load("common")
    macs = [28 * 28 * 32 * 9, 14 * 14 * 64 * 32 * 9, 64 * 7 * 7 * 128, 128 * 10]  # conv1, conv2, fc1, fc2
    forward = 2 * sum(macs)
    expected = forward + forward + (forward - 2 * macs[0])
    torch.manual_seed(5)
    state = torch.random.get_rng_state()
    assert common.RECIPES["report_cnn"].step_flops((1, 28, 28), n=3) == expected == 24_995_328
    assert torch.equal(torch.random.get_rng_state(), state)  # building the model drew nothing from the caller's RNG


def test_training_flops_count_images_epochs_and_low_res_epochs():
    common = _load("common")
    recipe = dataclasses.replace(common.RECIPES["strong_cnn"], fit_on_validation=False, epochs=8)
    per_image = recipe.step_flops()
    assert recipe.training_flops(500, 100) == 8 * 500 * per_image  # validation images count only in a final fit
    assert dataclasses.replace(recipe, fit_on_validation=True).training_flops(500, 100) == 8 * 600 * per_image
    assert dataclasses.replace(recipe, train_fraction=0.8).training_flops(500, 100) == 8 * 400 * per_image
    # at 20x20 every convolution sees 400 of 784 pixels per map; the linear head (128 -> 10) is unchanged
    head = 3 * 2 * 128 * 10
    low = (per_image - head) * 400 / 784 + head
    assert recipe.step_flops((1, 20, 20)) == pytest.approx(low)
    assert dataclasses.replace(recipe, low_res_epochs=4).training_flops(500) == pytest.approx(500 * (4 * per_image + 4 * low))
    # pooling before each stage's convolutions: the same parameters, 0.63x the arithmetic
    pool_conv = dataclasses.replace(recipe, model_options=(("transition", "pool-conv"),))
    assert pool_conv.step_flops() / per_image == pytest.approx(0.626, abs=0.001)


def test_step_cost_tiny(tmp_path, capsys):
    """Every variant timed, the notebook's model the baseline of both ratios, and the
    arithmetic ratios those of Recipe.step_flops times the batch (pooling first 0.63x;
    2x2 strided transitions 0.56x; shortcuts add no counted arithmetic; at 20x20 about
    400/784 of the convolutions' work; 192-pixel crops 7 to a batch 7 x 192^2 / (16 x 128^2))."""
    out = tmp_path / "step_cost.json"
    result = _load("step_cost").main(["--tiny", "--out", str(out)])
    assert json.loads(out.read_text()) == result
    rows = result["rows"]
    assert [(r["model"], r["image_size"]) for r in rows] == [("strong_cnn", 28)] * 4 + [("strong_cnn", 20)] + [
        ("unet", 128)] * 3 + [("unet", 192)]
    assert [r["batch_size"] for r in rows] == [256] * 5 + [16] * 3 + [7]
    # each model's notebook row is the baseline of its own ratios
    assert rows[0]["time_ratio"] == rows[0]["work_ratio"] == rows[5]["time_ratio"] == rows[5]["work_ratio"] == 1.0
    assert rows[1]["work_ratio"] == pytest.approx(0.626, abs=0.001)
    assert rows[2]["work_ratio"] == pytest.approx(0.557, abs=0.001)
    assert rows[3]["work_ratio"] == 1.0
    assert rows[4]["work_ratio"] == pytest.approx(400 / 784, abs=0.002)
    # a fifth U-Net level adds work at 8x8 and 16x16; three quarters of the widths about 0.56x of it
    assert rows[6]["work_ratio"] > 1.1 and rows[7]["work_ratio"] < rows[6]["work_ratio"] * 0.6
    assert rows[8]["work_ratio"] == pytest.approx(7 * 192 ** 2 / (16 * 128 ** 2), abs=0.001)
    assert all(r["ms_per_step"] > 0 and len(r["round_ms"]) == 1 for r in rows)
    assert "pooling before each stage's convolutions" in capsys.readouterr().out
    (tmp_path / "step_cost.json").write_text(json.dumps(dict(result, tiny=False)))
    table = _load("tables").step_cost_table(tmp_path)
    assert "| unet | a fifth level (widths 16 to 256) | 16 x 128x128 |" in table
    assert "| strong_cnn | the notebook's strong CNN | 256 x 28x28 |" in table
    with pytest.raises(SystemExit):
        _load("step_cost").main(["--rounds", "0", "--out", str(tmp_path / "x.json")])
    assert not (tmp_path / "x.json").exists()


def test_allocator_tiny_measures_both_settings_in_fresh_processes(tmp_path, capsys):
    """Each setting runs in its own process (the allocator setting cannot be undone), the
    child really ran with and without it (it checks the fast path's record), every
    notebook model is timed with its page faults, and the table renders it."""
    import platform
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("keeping freed memory is a glibc setting")
    out = tmp_path / "allocator.json"
    allocator = _load("allocator")
    result = allocator.main(["--tiny", "--out", str(out)])
    assert json.loads(out.read_text()) == result and result["tiny"]
    assert [r["model"] for r in result["rows"]] == ["report_cnn", "strong_cnn", "report_segnet", "unet"]
    for r in result["rows"]:
        assert r["ms_kept"] > 0 and r["ms_handed_back"] > 0 and r["faults_kept"] >= 0
        assert r["time_ratio"] == pytest.approx(r["ms_kept"] / r["ms_handed_back"], rel=1e-2)
    assert capsys.readouterr().out.count("round 1, freed memory") == 2
    tables = _load("tables")
    assert "No allocator timings yet" in tables.allocator_table(tmp_path)  # tiny runs are not tabled
    out.write_text(json.dumps(dict(result, tiny=False)))
    table = tables.allocator_table(tmp_path)
    assert "| report_segnet | 8 x 3x256x256 |" in table and "fresh process" in table
    with pytest.raises(SystemExit):
        allocator.main(["--steps", "0", "--out", str(tmp_path / "x.json")])
    assert not (tmp_path / "x.json").exists()


def test_plot_labels_at_one_point_are_moved_apart():
    """Point labels that would print over one another are spread out, and only their
    text boxes count (an annotation's extent also spans its leader line)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.text import Text
    tables = _load("tables")
    fig, ax = plt.subplots()
    ax.set(xlim=(0, 10), ylim=(0, 10))
    labels = [ax.annotate(f"a fairly long label {i}", (5, 5 + 0.01 * i), textcoords="offset points", xytext=(4, 2),
                          arrowprops=dict(arrowstyle="-")) for i in range(6)]
    renderer = fig.canvas.get_renderer()

    def boxes():
        return [Text.get_window_extent(t, renderer) for t in labels]

    assert boxes()[0].overlaps(boxes()[1])  # the case to mend
    tables._unstack(ax, labels)
    placed = boxes()
    assert not any(a.overlaps(b) for i, a in enumerate(placed) for b in placed[i + 1:])
    # they stay near their points: moved up and down in small steps, not pushed off the axes
    assert all(abs(t.xyann[1] - 2) <= 70 for t in labels), [t.xyann for t in labels]
    plt.close(fig)


def test_runs_past_z_are_named_like_spreadsheet_columns():
    tables = _load("tables")
    assert [tables._run_name(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702)] == [
        "A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]
    letters = tables._run_letters({"history": [{}] * 28})
    assert letters[25] == "Z" and letters[26] == "AA" and letters[27] == "AB"


def test_changes_that_round_to_zero_have_no_minus_sign():
    tables = _load("tables")
    change = tables.METRIC["unet"][2]
    assert change(-0.0001) == "+0.000" and change(-0.0006) == "-0.001" and change(0.0123) == "+0.012"
    assert tables.METRIC["strong_cnn"][2](-0.00001) == "+0.00 pt" and tables.METRIC["strong_cnn"][2](-0.0034) == "-0.34 pt"


def test_plot_floor_leaves_a_far_off_point_below_the_axis():
    tables = _load("tables")
    close = [0.940, 0.941, 0.942, 0.943, 0.944, 0.945]
    floor = tables._plot_floor(close + [0.920])
    assert 0.920 < floor < 0.940  # the outlier is drawn on the edge, the cluster spans the panel
    assert tables._plot_floor(close) == 0.940  # nothing far off: the minimum
    assert tables._plot_floor([0.5, 0.5, 0.5]) == 0.5  # no spread at all


def test_final_fits_are_ranked_against_the_notebooks_final_fit():
    tables = _load("tables")
    fit = dict(variant="with x, as the final fit", val=None, epochs=7)
    held = dict(variant="with y", val=0.94, epochs=8)
    assert tables._variant_rank(fit, 8, "held-out fit", 1.05, 1.05) == 2  # the notebook's final fit's work
    assert tables._variant_rank(fit, 8, "held-out fit", 1.20, 1.05) == 3  # more: beyond the budget
    assert tables._variant_rank(held, 8, "held-out fit", 1.05, 1.05) == 3  # a held-out variant: against 1.00x
    assert tables._variant_rank(dict(held, variant="without z"), 8, "held-out fit", 1.0, 1.05) == 1


def test_unet_scale_augmentation_fits_the_photos_and_keeps_the_plain_recipe_plain():
    """The scale-augmentation row's windows (up to 1.5x the 128-pixel crop) fit a 256x256
    photo and come out at the crop's size; the notebook's recipe keeps plain crops."""
    common, recipes = _load("common"), _load("recipes")
    unet = common.RECIPES["unet"]
    assert unet.crop_scale == (1.0, 1.0)
    changed = dict(recipes.ALTERNATIVES["unet"])["scale augmentation (crops of 85 to 192 pixels resized to 128)"]
    recipe = dataclasses.replace(unet, **changed)
    crop = recipe.image_shape[-1]
    assert round(crop * recipe.crop_scale[0]) == 85 and round(crop * recipe.crop_scale[1]) == 192
    X, y = torch.zeros(4, *recipe.eval_shape), torch.zeros(4, *recipe.eval_shape[1:], dtype=torch.long)
    Xa, ya = augment.segmentation_augment(crop, recipe.crop_scale)(X, y, torch.Generator().manual_seed(0))
    assert Xa.shape == (4, 3, crop, crop) and ya.shape == (4, crop, crop)


def test_unet_dice_row_builds_the_dice_loss_with_the_class_weights():
    """The alternative "soft Dice loss added to the cross-entropy" trains with
    training.DiceCrossEntropy, keeping the recipe's class weights; the recipe itself does not."""
    common, recipes = _load("common"), _load("recipes")
    unet = common.RECIPES["unet"]
    labels = torch.tensor([0, 0, 0, 1, 2, 3, 4, 4]).view(1, 2, 4)
    fast = config.plain_path("cpu")
    _, _, plain = unet.build(fast, train_labels=labels)
    assert isinstance(plain, torch.nn.CrossEntropyLoss)
    changed = dict(recipes.ALTERNATIVES["unet"])["soft Dice loss added to the cross-entropy"]
    _, _, dice = dataclasses.replace(unet, **changed).build(fast, train_labels=labels)
    assert isinstance(dice, training.DiceCrossEntropy) and dice.dice_weight == 1.0
    assert torch.equal(dice.cross_entropy.weight, plain.weight)


def test_alternating_flips_show_each_image_both_ways_every_two_epochs():
    """Derandomised flips: every image changes side from one epoch to the next (so two
    epochs show it both ways), about half start mirrored, the batches are still shuffled,
    and the recipe field builds them (only together with flip=True)."""
    common = _load("common")
    X = torch.arange(20 * 4, dtype=torch.float32).view(20, 1, 1, 4)  # no image is its own mirror
    y = torch.arange(20)
    batches = common.AlternatingFlips(X, y, 6, shuffle=True, generator=torch.Generator().manual_seed(0))
    sides, orders = [], []
    for _ in range(3):
        seen = {}
        for Xb, yb in batches:
            for image, label in zip(Xb, yb):
                i = int(label)
                assert torch.equal(image, X[i]) or torch.equal(image, X[i].flip(-1))
                seen[i] = torch.equal(image, X[i].flip(-1))
        orders.append(list(seen))
        sides.append([seen[i] for i in range(20)])
    assert all(a != b for a, b in zip(sides[0], sides[1])) and sides[2] == sides[0]
    assert 5 <= sum(sides[0]) <= 15 and orders[0] != orders[1]
    with pytest.raises(ValueError, match="shuffle=True"):
        common.AlternatingFlips(X, y, 6)
    splits = data.Splits(X, y, X[:2], y[:2], X[:2], y[:2])
    recipes = _load("recipes")
    changed = dict(recipes.ALTERNATIVES["strong_cnn"])["alternating flips (each image mirrored every other epoch)"]
    recipe = dataclasses.replace(common.RECIPES["strong_cnn"], **changed)
    assert isinstance(recipe.loaders(splits, config.plain_path("cpu"))[0], common.AlternatingFlips)
    with pytest.raises(ValueError, match="needs flip=True"):
        dataclasses.replace(recipe, flip=False).loaders(splits, config.plain_path("cpu"))


def test_weight_averaging_folds_in_the_weights_each_step_left():
    """airbench's weight averaging: after each step on a batch, the moving average takes
    the weights that step left (decay 0.5 here: 1, then 1.5, then 2.25 for weights 1, 2,
    3); the batches pass through unchanged; the recipe row builds it, and a decay outside
    (0, 1) is refused by name."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    common, recipes = _load("common"), _load("recipes")
    X, y = torch.rand(6, 1, 28, 28), torch.arange(6)
    model = torch.nn.Linear(1, 1, bias=False)
    averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.5), use_buffers=True)
    batches = common.AveragedAfterSteps(data.TensorBatches(X, y, 2), averaged, model)
    assert len(batches) == 3 and batches.dataset_size == 6
    seen = []
    for i, (Xb, yb) in enumerate(batches, start=1):
        seen.append(yb.tolist())
        with torch.no_grad():
            model.weight.fill_(i)  # what a step would leave
    assert seen == [[0, 1], [2, 3], [4, 5]]
    assert averaged.module.weight.item() == pytest.approx(2.25) and model.weight.item() == 3
    changed = dict(recipes.ALTERNATIVES["strong_cnn"])[
        "weight averaging (an exponential moving average of the weights, decay 0.99)"]
    assert changed == dict(ema_decay=0.99) and common.RECIPES["strong_cnn"].ema_decay == 0
    splits = data.Splits(X, y, X[:2], y[:2], X[:2], y[:2])
    fast = config.plain_path("cpu")
    recipe = dataclasses.replace(common.RECIPES["strong_cnn"], batch_size=2, epochs=1, fit_on_validation=False,
                                 evals_per_epoch=1, **changed)
    trained, *_ = recipes.train_model(recipe, splits, fast)
    assert isinstance(trained, AveragedModel) and trained.n_averaged.item() == 3
    with pytest.raises(ValueError, match="ema_decay=1.5"):
        recipes.train_model(dataclasses.replace(recipe, ema_decay=1.5), splits, fast)


def test_tta_views_match_the_notebooks_mirror_and_shift_by_one_pixel():
    """benchmarks/tta.py: a one-pixel shift moves the image and fills the edge with its
    smallest value; the notebook's views (the image and its mirror; for the U-Net at
    256 pixels) give exactly training.predict's flip TTA; a scale set resizes views to
    multiples of 8 pixels and maps the scores back onto the photo."""
    tta = _load("tta")
    from helpers import models
    X = torch.tensor([[[[5.0, 1.0], [2.0, 3.0]]]])
    assert torch.equal(tta.shift(X, 0, 1), torch.tensor([[[[1.0, 5.0], [1.0, 2.0]]]]))
    assert torch.equal(tta.shift(X, -1, 0), torch.tensor([[[[2.0, 3.0], [1.0, 1.0]]]]))
    fast = config.plain_path("cpu")
    torch.manual_seed(0)
    for model, images, labels, views in (
            (models.StrongCNN(widths=(4, 8, 8), convs_per_stage=1), torch.randn(6, 1, 28, 28),
             torch.zeros(6, dtype=torch.long), tta.classification_views("mirror")),
            (models.UNet(widths=(4, 8)), torch.randn(4, 3, 16, 16), torch.zeros(4, 16, 16, dtype=torch.long),
             tta.segmentation_views((1.0,), 16))):
        loader = data.TensorBatches(images, labels, 4)
        expected = training.predict(model, loader, fast, flip_tta=True)[0]
        assert torch.allclose(training.predict(model, loader, fast, views=views)[0], expected, atol=1e-6)
    assert len(tta.classification_views("mirror shifts")) == 10 and len(tta.classification_views("shifts")) == 5
    scaled = tta.segmentation_views((0.75, 1.25), 256)
    assert [view(torch.zeros(1, 3, 256, 256)).shape[-1] for view, _ in scaled] == [192, 192, 320, 320]
    assert scaled[3][1](torch.zeros(1, 5, 320, 320)).shape[-2:] == (256, 256)


def test_tta_tiny(tmp_path, debian_fashion, tiny_facades):
    """The script trains each model once and scores every set of views on validation and
    test; the table renders from its JSON."""
    tta, tables = _load("tta"), _load("tables")
    out = tmp_path / "tta.json"
    tta.main(["--tiny", "--out", str(out), "--fashion-root", str(tmp_path / "root"), "--debian-dir",
              str(debian_fashion), "--facades-dir", str(tiny_facades), "--precision", "fp32"])
    result = json.loads(out.read_text())
    views = [(r["model"], r["n_views"]) for r in result["rows"]]
    assert views == [("strong_cnn", n) for n in (1, 2, 5, 10)] + [("unet", n) for n in (1, 2, 4, 4, 6, 6)]
    for r in result["rows"]:
        assert 0 <= r["val"] <= 1 and 0 <= r["test"] <= 1 and r["test_eval_seconds"] >= 0
    assert "No test-time augmentation runs yet" in tables.tta_table(tmp_path)  # tiny runs are not tabled
    (tmp_path / "tta.json").write_text(json.dumps(dict(result, tiny=False)))
    table = tables.tta_table(tmp_path)
    assert table.count("\n| strong_cnn") == 4 and table.count("\n| unet") == 6 and "+0.00 pt" in table


def test_merged_runs_on_different_cpus_name_each_cpu_with_its_runs():
    tables = _load("tables")
    history = [dict(device_name=n) for n in ("Intel", "Intel", "Intel", "AMD", "Intel", "AMD", "AMD")]
    assert tables._devices_text(dict(device_name="AMD", history=history)) == (
        "2 CPUs (Intel: runs A to C, E; AMD: runs D, F, G), each")
    assert tables._devices_text(dict(device_name="Intel", history=history[:3])) == "Intel"

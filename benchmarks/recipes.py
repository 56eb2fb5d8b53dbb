"""The stronger models' recipes: three seeds each, and what every lever is worth.

    python benchmarks/recipes.py                        # both models: 3 seeds + ablations (about 2.5 hours on 2 cores)
    python benchmarks/recipes.py --models strong_cnn    # one model
    python benchmarks/recipes.py --no-ablations --seeds 0,1,2
    python benchmarks/recipes.py --tradeoffs            # then the points beyond the budget (TRADEOFFS)
    python benchmarks/recipes.py --before-flip          # then the record of the strong CNN's recipe before the flip
    python benchmarks/recipes.py --models unet --merge  # redo one model, keep the other's rows
    python benchmarks/recipes.py --models strong_cnn --only "final recipe" --merge  # the final fit's 3 seeds
    python benchmarks/recipes.py --tiny                 # seconds: checks that the script runs (tests)

Each run trains a model exactly as its notebook does (the recipe in ``common.RECIPES``,
the same split, loaders, schedule and training loop; seed ``s`` seeds the weights with
``s`` and the batch order with ``s + 1``, so seed 0 is the notebook's run). The
**final recipe** runs once per seed. Where the notebook trains a *final fit* (the strong
CNN: training + validation images, 7 epochs), that model has no validation score, so
each seed also trains its **held-out fit** (``HELD_OUT``: the same recipe on the
training images alone, 8 epochs, about as many steps), whose validation mean and range
are the yardstick, and the ablations vary the held-out fit. Each **ablation** is the
measured recipe minus one lever (seed 0; "without flip TTA" scores the seed-0 model
without the mirror, as training is the same, and is skipped where validation did not
keep TTA), or plus a choice that validation dropped (and, for the CNN, rows that price
data: the recipe on 80 % of the training images, a point on the learning curve, and the
final fit for 8 epochs, which reports test only), or a lever for time. The rule (spelled
out in ``benchmarks/README.md``): a lever is established when removing it costs more
validation accuracy (or mean AP) than the seeds' spread, one that costs nothing per step
stays unless removing it gains more than that, and a choice turned down stays out unless
adding it gains more. Choices are read from the validation columns; the test columns are
reported, never used to choose. Flip averaging at test time (TTA) is kept only where it
helps on validation, as the segmentation notebook decides it (a final fit cannot decide
it: the CNN's applies it, as its held-out fits kept it). The strong CNN's recipe took up
flip augmentation after runs A to AB; the rows measured before that are a record of the
recipe before the flip (``BEFORE_FLIP_VARIANTS``, ``--before-flip``), compared with its
held-out fits, the ablation "without flip augmentation". Mind the names with
``--only``: the final fit's seeds are the variant "final recipe" (``--only "final
recipe"``); ``--only "final fit"`` matches the 8-epoch alternative and pooling first as
the final fit. A variant runs with the first of ``--seeds``.

Writes ``benchmarks/recipes.json``; ``python benchmarks/tables.py`` renders its tables
and the accuracy-versus-time plot (``benchmarks/recipes.png``) into the README.
Run it alone: the training seconds are wall-clock on all cores.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from common import (FASHION_VAL, HELD_OUT_VARIANT, PATCH, POOL_CONV, RECIPES, RESIDUAL, UNET_FIVE_LEVELS, UNET_FIVE_NARROW,
                    UNET_WIDE_FIRST, AveragedAfterSteps, Recipe, add_precision_argument, parse_models, pick_fast_path,
                    write_json)
from helpers import augment, config, data, facades, metrics, training

HERE = Path(__file__).resolve().parent
STRONG = ("strong_cnn", "unet")

# the levers of each recipe that validation reads (the held-out fit for the strong CNN):
# (name, the recipe's fields with that lever removed)
LEVERS = {
    "strong_cnn": [
        ("label smoothing", dict(label_smoothing=0.0)),
        ("one-cycle schedule (constant rate)", dict(schedule="constant")),
        # the recipe before the flip was adopted (its held-out fits, runs B and A)
        ("flip augmentation", dict(flip=False)),
        ("flip TTA", dict(flip_tta=False)),
    ],
    "unet": [
        ("class weights", dict(class_weight_power=0.0)),
        ("one-cycle schedule (constant rate)", dict(schedule="constant")),
        ("flip TTA", dict(flip_tta=False)),
    ],
}

# run with the ablations, each added to the recipe that validation reads: choices it turned down
# or left open, a time lever, and rows that price data: (name, the recipe's fields with it added)
ALTERNATIVES = {
    "strong_cnn": [# not a change: the held-out fit trained again on the CPU the later rows ran on (runs AN and after,
                   # an AMD EPYC; the seeds above ran on an Intel Xeon), so that those rows have a yardstick from their
                   # own CPU (the same seed does not give the same numbers on both)
                   ("nothing changed (the held-out fit again, a yardstick on the CPU of the later runs)", dict()),
                   ("flip + shift augmentation", dict(flip=True, pad=2)),
                   # the same flips on a schedule: each image mirrored every other epoch (a random half
                   # starting mirrored), so every two epochs show each image both ways (airbench's
                   # derandomised flips; no extra arithmetic)
                   ("alternating flips (each image mirrored every other epoch)", dict(alternate_flips=True)),
                   # airbench's weight averaging: the model scored is an exponential moving average of
                   # the weights (and batch-norm statistics) over the last hundred or so steps (decay 0.99)
                   ("weight averaging (an exponential moving average of the weights, decay 0.99)",
                    dict(ema_decay=0.99)),
                   ("batch 128 (twice the steps)", dict(batch_size=128)),
                   # a model change for no arithmetic: each stage's two further convolutions bypassed by a
                   # shortcut (a ResNet basic block), so that early layers learn faster in a short run
                   ("shortcuts around each stage's pair of convolutions (residual blocks)",
                    dict(model_options=RESIDUAL)),
                   # the one-cycle schedule's peak rate, never varied before: twice and half the recipe's
                   ("a peak rate of 0.006 (twice the recipe's)", dict(lr=6e-3)),
                   ("a peak rate of 0.0015 (half the recipe's)", dict(lr=1.5e-3)),
                   # AdamW's decoupled weight decay shrinks each weight by rate x decay a step: at the recipe's
                   # 5e-4 that is under 0.2 % over the whole run, so hardly any; a hundred and a thousand times
                   # as much (behind batch norm, shrinking the convolutions' weights raises their effective rate)
                   ("weight decay 0.05 (a hundred times the recipe's)", dict(weight_decay=0.05)),
                   ("weight decay 0.5 (a thousand times the recipe's)", dict(weight_decay=0.5)),
                   ("SGD (Nesterov momentum 0.9, peak rate 0.1)", dict(optimizer="SGD", lr=0.1, momentum=0.9)),
                   # not a choice but a point on the learning curve: what the last 20 % of the images
                   # (25 % more than the rest) are worth
                   ("80 % of the training images", dict(train_fraction=0.8)),
                   # a time lever: the first half of the epochs at 20x20 pixels, steps about half as dear
                   ("the first 4 epochs at 20x20 pixels (progressive resizing)", dict(low_res_epochs=4)),
                   # a time lever in the model: every stage pools before its first convolution, so
                   # no convolution but the stem's runs at 28x28 (0.63x the arithmetic, the same
                   # parameters); and the same for 10 epochs, spending part of the saving on steps
                   ("pooling before each stage's convolutions", dict(model_options=POOL_CONV)),
                   ("pooling first, for 10 epochs", dict(model_options=POOL_CONV, epochs=10)),
                   # another in the model: each stage downsamples with a 2x2 convolution of stride 2, which
                   # sees every pixel once, instead of a 3x3 convolution at the full size and max-pooling
                   # (0.56x the arithmetic, 412,384 parameters instead of 463,584)
                   ("2x2 convolutions of stride 2 to downsample", dict(model_options=PATCH)),
                   # what the cheaper architecture would give as the notebook's model (test only; the
                   # mirror applied, as its held-out fit kept it)
                   ("pooling first, as the final fit (training + validation images, 7 epochs)",
                    dict(model_options=POOL_CONV, fit_on_validation=True, epochs=7)),
                   # the final recipe trains 7 epochs on training + validation images; the same with 8
                   # (test only: it trained on the validation images)
                   ("training + validation images for 8 epochs (the final fit, a seventh more steps)",
                    dict(fit_on_validation=True))],
    "unet": [# not a change: the final recipe trained again on the CPU of the later runs (AO and after, an AMD EPYC)
             ("nothing changed (the final recipe again, a yardstick on the CPU of the later runs)", dict()),
             ("batch 8 (twice the steps)", dict(batch_size=8)),
             # the class weights' power, 0.5 (1 / sqrt(share)) in the recipe: 1 weighs each class by the inverse of
             # its share, so the rare pillars count several times more again
             ("class weights 1 / share (power 1 instead of 0.5)", dict(class_weight_power=1.0)),
             # the one-cycle schedule's peak rate: twice the recipe's
             ("a peak rate of 0.006 (twice the recipe's)", dict(lr=6e-3)),
             # AdamW's weight decay at 1e-4 barely shrinks the weights over the run (as for the strong CNN)
             ("weight decay 0.05 (five hundred times the recipe's)", dict(weight_decay=0.05)),
             # a model change: a fifth level, whose 8x8 (crops) or 16x16 (photos) bottleneck sees a
             # wider context (a facade's rows and columns of windows) for 1.3x the arithmetic; and the
             # same depth with every level three quarters as wide, cheaper than the recipe's four
             ("a fifth level (widths 16 to 256)", dict(model_options=UNET_FIVE_LEVELS)),
             ("five narrower levels (widths 12 to 192)", dict(model_options=UNET_FIVE_NARROW)),
             # width where the detail is: the full-resolution level (encoder and decoder) at 24 channels, not
             # 16, the deeper levels as they are (1.36x the arithmetic, nearly all of the increase at full resolution)
             ("a wider first level (24 channels instead of 16)", dict(model_options=UNET_WIDE_FIRST)),
             # more varied crops from the same 266 buildings: each covers a window of 85 to 192 pixels
             # (two thirds to one and a half times the crop, drawn log-uniformly), resized to 128x128, so
             # windows, pillars and balconies appear at more sizes than the photos show them (the same
             # arithmetic per step; the resizing is cheap)
             ("scale augmentation (crops of 85 to 192 pixels resized to 128)", dict(crop_scale=(2 / 3, 1.5))),
             # more context in each crop for the same arithmetic: 192-pixel crops (2.25 times the pixels), 7 to a
             # batch (about the recipe's pixels per step) for 13 epochs (about the recipe's steps), so a crop spans
             # more of a facade's floors and columns of windows
             ("192-pixel crops, batch 7, 13 epochs (about the recipe's steps and pixels)",
              dict(image_shape=(3, 192, 192), batch_size=7, epochs=13)),
             # and the other way: 96-pixel crops (0.56 times the pixels), 28 to a batch, for 53 epochs
             ("96-pixel crops, batch 28, 53 epochs (about the recipe's steps and pixels)",
              dict(image_shape=(3, 96, 96), batch_size=28, epochs=53)),
             # a loss in which every class weighs the same: the class-weighted cross-entropy plus the soft
             # Dice loss (1 - the mean over classes of each class's overlap ratio), aimed at the rare
             # pillars and balconies and at their outlines, for no extra arithmetic in the network
             ("soft Dice loss added to the cross-entropy", dict(dice_weight=1.0)),
             # a point on the learning curve: the U-Net without the eighth of its photos that a final fit
             # on training + validation photos would add (702 photos instead of 798: 798 / 702 is about 906 / 798)
             ("88 % of the training images", dict(train_fraction=0.88)),
             # the final fit that point prices (test only: it trains on the validation photos), for about
             # the recipe's steps (26 x 906 against 30 x 798 photos) and without validation passes
             ("training + validation images for 26 epochs (a final fit, about the same steps)",
              dict(fit_on_validation=True, epochs=26))],
}

# The recipe before the flip was adopted (runs A to T): the same without flip augmentation. Its
# held-out fits are the ablation "without flip augmentation" (three seeds); validation turned the
# mirror down for all three, so its final fits went without it. The rows below were measured on
# it: they are kept as a record of that recipe, each compared with those fits (``--before-flip``
# plans them); most have been measured again on the recipe under their own names. Each names a
# variant planned for the recipe (or "final fit", the final recipe), trained without the flip.
BEFORE_FLIP = "before the flip: "
BEFORE_FLIP_BASE = "without flip augmentation"
BEFORE_FLIP_VARIANTS = {
    "strong_cnn": ["final fit", "without label smoothing", "without one-cycle schedule (constant rate)",
                   "with batch 128 (twice the steps)", "with SGD (Nesterov momentum 0.9, peak rate 0.1)",
                   "with 80 % of the training images", "with the first 4 epochs at 20x20 pixels (progressive resizing)",
                   "with pooling before each stage's convolutions", "with pooling first, for 10 epochs",
                   "with pooling first, as the final fit (training + validation images, 7 epochs)",
                   "with training + validation images for 8 epochs (the final fit, a seventh more steps)",
                   "with twice the epochs"],
}


def before_flip(recipe: Recipe) -> Recipe:
    """``recipe`` as the recipe before the flip trained it: no flip augmentation, and a final
    fit without the mirror (the held-out fits of that recipe turned it down)."""
    return dataclasses.replace(recipe, flip=False, flip_tta=recipe.flip_tta and not recipe.fit_on_validation)


# models whose notebook trains a final fit (on training + validation images, so it has no
# validation score): the recipe that validation measures instead, its "held-out fit": the
# same recipe on the training images alone, for about as many steps. Every choice is read
# from it, and the ablations and trade-off points vary it.
HELD_OUT = {
    "strong_cnn": dict(fit_on_validation=False, epochs=8, flip_tta=True, evals_per_epoch=1, eval_every=2),
}
YARDSTICK = HELD_OUT_VARIANT


def yardstick(recipe: Recipe) -> tuple[str, Recipe]:
    """``(variant, recipe)`` that validation reads for ``recipe``: its held-out fit where the
    notebook trains a final fit, else the final recipe itself."""
    if recipe.name in HELD_OUT:
        return YARDSTICK, dataclasses.replace(recipe, **HELD_OUT[recipe.name])
    return "final recipe", recipe


# points on the accuracy-versus-time curve beyond the budget (run last): (name, changed fields).
# For the strong CNN, whose flipped images pay for more epochs: 12 and 16 epochs (how
# accuracy grows with time); with shifts on top of the flip, every epoch shows new images;
# and the same on the cheaper architecture, which pays for part of the longer training
TRADEOFFS = {
    "strong_cnn": [("12 epochs (one and a half times the epochs)", dict(epochs=12)),
                   ("twice the epochs", dict(epochs=16)),
                   ("flip + shift augmentation for twice the epochs", dict(flip=True, pad=2, epochs=16)),
                   ("pooling first and flip + shift augmentation, 16 epochs",
                    dict(model_options=POOL_CONV, flip=True, pad=2, epochs=16))],
    "unet": [("twice the epochs", dict(epochs=60))],
}


def _score(recipe: Recipe, probs: torch.Tensor, y: torch.Tensor) -> tuple[float, list[float]]:
    """Accuracy and per-class accuracy, or mean AP and AP per class."""
    if recipe.segmentation:
        ap = metrics.average_precision_per_class(probs.numpy(), y.numpy())
        return metrics.mean_ap(ap), [float(a) for a in ap]
    pred = probs.argmax(1)
    return metrics.accuracy(y, pred), [float(a) for a in metrics.per_class_accuracy(y, pred, recipe.num_classes)]


def train_model(recipe: Recipe, splits, fast: config.FastPath, seed: int = 0, epochs: int | None = None,
                progress: bool = False):
    """Train ``recipe`` once, as its notebook does: ``(model, history, val_loader,
    test_loader, fast)``, ``fast`` as the recipe uses it (a fused step only where asked for)."""
    epochs = epochs or recipe.epochs
    if recipe.segmentation:
        transform = facades.scale_photos
        augment_fn = augment.segmentation_augment(recipe.image_shape[-1], recipe.crop_scale)
    else:
        transform = data.standardize(splits.X_train)
        # alternating flips mirror the images in the batches themselves (common.AlternatingFlips)
        random_flip = recipe.flip and not recipe.alternate_flips
        augment_fn = (augment.classification_augment(pad=recipe.pad, flip=random_flip)
                      if random_flip or recipe.pad else None)
    fast = recipe.fast_path(fast)
    model, optimizer, loss_fn = recipe.build(fast, seed=seed, train_labels=splits.y_train)
    train_loader, val_loader, test_loader = recipe.loaders(splits, fast, transform, seed + 1, augment_fn)
    averaged = None
    if recipe.ema_decay:  # the average is what gets scored; the curves still follow the trained weights
        if not 0 < recipe.ema_decay < 1:
            raise ValueError(f"ema_decay={recipe.ema_decay}: choose a decay in (0, 1), e.g. 0.99")
        averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(recipe.ema_decay), use_buffers=True)
        train_loader = AveragedAfterSteps(train_loader, averaged, model)
    # a final fit trains on the validation images: no validation passes (as in the notebook)
    history = training.train(model, train_loader, None if recipe.fit_on_validation else val_loader, loss_fn,
                             optimizer, epochs, fast,
                             evals_per_epoch=recipe.evals_per_epoch, eval_every=recipe.eval_every,
                             scheduler=recipe.scheduler(optimizer, epochs * len(train_loader)),
                             progress=progress, desc=recipe.name)
    return averaged or model, history, val_loader, test_loader, fast


def run(recipe: Recipe, splits, fast: config.FastPath, seed: int = 0, epochs: int | None = None,
        progress: bool = False) -> dict:
    """Train ``recipe`` once (as its notebook does) and score it on validation and test."""
    epochs = epochs or recipe.epochs
    model, history, val_loader, test_loader, fast = train_model(recipe, splits, fast, seed, epochs, progress)
    val = {}
    if recipe.fit_on_validation:  # it trained on the validation images: no validation score to decide the
        val[False], use_tta = None, recipe.flip_tta  # mirror on; its held-out fits decided it beforehand
    else:
        for tta in (False, True) if recipe.flip_tta else (False,):
            val[tta] = _score(recipe, *training.predict(model, val_loader, fast, flip_tta=tta))[0]
        use_tta = recipe.flip_tta and val[True] > val[False]
    test = {}
    for tta in dict.fromkeys((False, use_tta)):  # the plain scores too: the TTA ablation needs no new run
        start = time.perf_counter()
        probs, y = training.predict(model, test_loader, fast, flip_tta=tta)
        training.synchronize(fast.device)
        test[tta] = (*_score(recipe, probs, y), time.perf_counter() - start)
        del probs
    chosen = test[use_tta]
    return dict(model=recipe.name, seed=seed, epochs=epochs, train_seconds=round(history["seconds"], 3),
                test_eval_seconds=round(chosen[2], 2), val=val[False], val_tta=val.get(True),
                flip_tta=bool(use_tta), test=chosen[0], test_per_class=chosen[1],
                test_plain=test[False][0], test_plain_per_class=test[False][1],
                test_plain_eval_seconds=round(test[False][2], 2),
                parameters=sum(p.numel() for p in model.parameters()))


def without_tta(row: dict) -> dict:
    """The ablation "without flip TTA" of a finished run: the same trained model scored
    without the mirror (training is identical, so nothing is retrained)."""
    return dict(row, variant="without flip TTA", flip_tta=False, val_tta=None, test=row["test_plain"],
                test_per_class=row["test_plain_per_class"], test_eval_seconds=row["test_plain_eval_seconds"],
                derived_from="%s, seed %d" % (row["variant"], row["seed"]))


def job_label(model: str, variant: str, seed: int) -> str:
    return f"{model} {variant} seed {seed}"


def planned_jobs(recipes, seeds, ablations: bool, tradeoffs: bool, former: bool = False) -> list[tuple]:
    """``(recipe, variant, changed recipe, seed)`` for every run asked for, in order:
    every model's seeds first (the held-out fit, where there is one, then the final
    recipe), then the ablations, then the trade-off points (an interrupted run keeps the
    yardstick), then, with ``former``, the rows of the recipe before the flip
    (``BEFORE_FLIP_VARIANTS``). Ablations and trade-off points vary the recipe that
    validation reads (:func:`yardstick`)."""
    jobs = []
    for recipe in recipes:
        variant, measured = yardstick(recipe)
        for seed in seeds:
            jobs += [(recipe, variant, measured, seed)] if measured is not recipe else []
            jobs += [(recipe, "final recipe", recipe, seed)]
    if ablations:
        jobs += [(recipe, f"without {lever}", dataclasses.replace(yardstick(recipe)[1], **off), seeds[0])
                 for recipe in recipes for lever, off in LEVERS[recipe.name]]
        jobs += [(recipe, f"with {name}", dataclasses.replace(yardstick(recipe)[1], **on), seeds[0])
                 for recipe in recipes for name, on in ALTERNATIVES[recipe.name]]
    if tradeoffs:
        jobs += [(recipe, f"with {name}", dataclasses.replace(yardstick(recipe)[1], **changed), seeds[0])
                 for recipe in recipes for name, changed in TRADEOFFS[recipe.name]]
    if former:
        for recipe in recipes:
            names = BEFORE_FLIP_VARIANTS.get(recipe.name, [])
            if not names:
                continue
            current = {variant: changed for _, variant, changed, _ in planned_jobs([recipe], seeds[:1], True, True)}
            current["final fit"] = recipe
            jobs += [(recipe, BEFORE_FLIP + name, before_flip(current[name]), seeds[0]) for name in names]
    return jobs


def _earlier_missing(old: dict) -> list[str]:
    """The runs an earlier file planned but lacks. Files written before the ``missing``
    field existed are read by what they hold: a model with any ablation row planned every
    ablation, and a file with any trade-off row planned every model's trade-off points."""
    if "missing" in old:
        return list(old["missing"])
    if old.get("complete", True):
        return []
    rows = old["rows"]
    tradeoff_names = {f"with {name}" for table in TRADEOFFS.values() for name, _ in table}
    tradeoffs = any(r["variant"] in tradeoff_names for r in rows)
    former = any(r["variant"].startswith(BEFORE_FLIP) for r in rows)
    have = {job_label(r["model"], r["variant"], r["seed"]) for r in rows}
    missing = []
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name]
        seeds = [r["seed"] for r in mine if r["variant"] == "final recipe"] or [0]
        ablations = any(r["variant"] not in ("final recipe", YARDSTICK) and r["variant"] not in tradeoff_names
                        and not r["variant"].startswith(BEFORE_FLIP) for r in mine)
        recipe = dataclasses.replace(RECIPES[name], **{k: v for k, v in old["recipes"].get(name, {}).items()
                                                      if k in {f.name for f in dataclasses.fields(Recipe)}})
        seed0 = next((r for r in mine if r["variant"] == yardstick(recipe)[0] and r["seed"] == seeds[0]), None)
        for _, variant, _, seed in planned_jobs([recipe], seeds, ablations, tradeoffs, former):
            label = job_label(name, variant, seed)
            skipped = variant == "without flip TTA" and seed0 is not None and not seed0["flip_tta"]
            if label not in have and not skipped:
                missing.append(label)
    return missing


def _splits(name: str, args):
    limit = 24 if args.tiny else None
    if name == "strong_cnn":
        return data.load_fashion_mnist(val_size=6 if args.tiny else FASHION_VAL, limit=limit,
                                       root=args.fashion_root, debian_dir=args.debian_dir,
                                       generator=torch.Generator().manual_seed(0))
    return facades.load_facades(args.facades_dir, limit=limit)


def _tiny_crops(recipe: Recipe) -> Recipe:
    """``recipe`` with 16-pixel training crops where it segments (``--tiny``'s photos are 32x32)."""
    return dataclasses.replace(recipe, image_shape=(3, 16, 16)) if recipe.segmentation else recipe


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(STRONG), help="comma-separated: strong_cnn, unet")
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the final recipe (default 0,1,2); the ablations and trade-off points use the first")
    parser.add_argument("--no-ablations", action="store_true", help="only the final recipe's seeds")
    parser.add_argument("--tradeoffs", action="store_true",
                        help="then the points beyond the time budget (twice the epochs; for the strong CNN also "
                             "12 epochs, and flip + shift augmentation for 16 epochs, on its architecture and "
                             "with pooling first), for the plot")
    parser.add_argument("--before-flip", action="store_true",
                        help="then the rows measured on the recipe before the flip was adopted "
                             "(BEFORE_FLIP_VARIANTS: the same variants without flip augmentation), a record")
    parser.add_argument("--fashion-root", default=str(config.DATA_DIR))
    parser.add_argument("--debian-dir", default=str(data.DEBIAN_DIR))
    parser.add_argument("--facades-dir", default=None, help="facade data (default: FACADES_DIR, then data/facades)")
    parser.add_argument("--out", default=str(HERE / "recipes.json"))
    parser.add_argument("--merge", action="store_true",
                        help="keep the rows of an existing --out that this run does not redo "
                             "(e.g. rerun one model after changing its recipe)")
    parser.add_argument("--only", metavar="TEXT", action="append",
                        help="run only the planned runs whose variant contains TEXT (e.g. \"80 %%\"; repeat it "
                             "for more); with --merge, adds or redoes those rows and keeps the rest")
    parser.add_argument("--tiny", action="store_true", help="one epoch on a few images (tests)")
    add_precision_argument(parser)
    args = parser.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds: {args.seeds!r} is not a comma-separated list of integers, e.g. 0,1,2")
    recipes = parse_models(parser, args.models, allowed=STRONG)
    fast = pick_fast_path(parser, args.precision)
    if args.tiny:  # the test photos are 32x32: crops of 16, the recipes' and each variant's own
        recipes = [_tiny_crops(r) for r in recipes]
    jobs = planned_jobs(recipes, seeds, not args.no_ablations, args.tradeoffs, args.before_flip)
    if args.tiny:
        jobs = [(r, v, _tiny_crops(c), s) for r, v, c, s in jobs]
    if args.only:
        variants = sorted({variant for _, variant, _, _ in jobs})
        jobs = [job for job in jobs if any(text in job[1] for text in args.only)]
        if not jobs:
            parser.error(f"--only: no planned run's variant contains {' or '.join(map(repr, args.only))}; "
                         "the planned variants are: "
                         + "; ".join(variants) + " (--tradeoffs adds the trade-off points, --before-flip the "
                         "rows of the recipe before the flip)")
    labels = [job_label(recipe.name, variant, seed) for recipe, variant, _, seed in jobs]
    device_name = config.device_name(fast.device)
    this_run = dict(started=time.strftime("%Y-%m-%d %H:%M"), models=[r.name for r in recipes],
                    device_name=device_name)
    kept, kept_recipes, earlier_missing, history = [], {}, [], []
    if args.merge and Path(args.out).is_file():
        old = json.loads(Path(args.out).read_text())
        if bool(old.get("tiny")) != args.tiny:
            parser.error(f"--merge: {args.out} holds {'tiny' if old.get('tiny') else 'real'} runs and this one "
                         f"is {'tiny' if args.tiny else 'real'}; write to another --out")
        redone = set(labels)
        kept = [r for r in old["rows"] if job_label(r["model"], r["variant"], r["seed"]) not in redone]
        kept_recipes = {name: spec for name, spec in old["recipes"].items() if name not in {r.name for r in recipes}}
        earlier_missing = [label for label in _earlier_missing(old) if label not in redone]
        if not old.get("history"):  # a file from before runs were recorded: its rows are one run
            kept = [dict(r, run=0) for r in kept]
        history = old.get("history") or [dict(started=None, models=list(old["recipes"]),
                                              device_name=old.get("device_name"))]
    splits, rows = {}, []
    header = dict(device=fast.device.type, device_name=device_name, cores=os.cpu_count(),
                  threads=torch.get_num_threads(), torch=torch.__version__, python=platform.python_version(),
                  precision=fast.precision, tiny=args.tiny, history=history + [this_run],
                  recipes=dict(kept_recipes, **{r.name: dataclasses.asdict(r) for r in recipes}))
    for i, (recipe, variant, changed, seed) in enumerate(jobs):
        base = None
        measured_variant, measured = yardstick(recipe)
        if changed != measured and changed == dataclasses.replace(measured, flip_tta=False):
            # differs only in TTA: it trains the measured recipe's model, so rescore that run
            # (this run's, else a kept row of an earlier run: the same recipe trained the same way)
            base = next((r for r in rows + kept if r["model"] == recipe.name and r["variant"] == measured_variant
                         and r["seed"] == seed), None)
        if base is not None and not base["flip_tta"]:
            print(f"{recipe.name:<10} {variant:<42} seed {seed}  skipped: validation did not keep flip TTA, "
                  f"so the {measured_variant} already runs without it", flush=True)
        else:
            if base is not None:
                row = without_tta(base)
            else:
                if recipe.name not in splits:
                    splits[recipe.name] = _splits(recipe.name, args)
                config.seed_everything(seed)
                row = dict(run(changed, splits[recipe.name], fast, seed, 1 if args.tiny else None), variant=variant,
                           run=len(history))  # this run's place in the header's history
            rows.append(row)
            print(f"{recipe.name:<10} {variant:<42} seed {seed}  train {row['train_seconds']:7.1f} s  "
                  + ("val -     " if row["val"] is None else f"val {row['val']:.4f}")
                  + (f" (TTA {row['val_tta']:.4f})" if row["val_tta"] is not None else "")
                  + f"  test {row['test']:.4f}{' with TTA' if row['flip_tta'] else ''}", flush=True)
        # after every job: a long benchmark stopped half-way keeps what it measured, and
        # lists what it did not reach (the jobs run in order)
        missing = earlier_missing + labels[i + 1:]
        write_json(args.out, dict(header, complete=not missing, missing=missing,
                                  rows=sorted(kept + rows, key=lambda r: STRONG.index(r["model"]))))
    return rows


if __name__ == "__main__":
    main()

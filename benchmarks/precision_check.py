"""Does the fast path cost accuracy? Train each report model twice with the same seed,
in fp32 and in the fast path (bf16 autocast where supported + channels_last), and
compare test accuracy (classification) and mean AP (segmentation).

Uses the notebooks' recipes: report CNN, standardised inputs, Adam 1e-3 (fused where
the device has it, in both runs) with cosine decay, batch 64, 10 epochs; report
segmentation net, Adam 1e-3 (weight decay 1e-5), batch 8, 20 epochs.

    python benchmarks/precision_check.py                 # both models (about an hour on 2 cores)
    python benchmarks/precision_check.py --models cnn    # classification only (about 5 minutes)
"""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path


from common import RECIPES, add_precision_argument, pick_fast_path, train_and_predict, write_json
from helpers import config, data, facades, metrics


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="cnn,segnet")
    parser.add_argument("--out", default=str(config.REPO_ROOT / "benchmarks" / "precision_check.json"))
    add_precision_argument(parser)
    args = parser.parse_args(argv)
    fast = pick_fast_path(parser, args.precision)
    fp32 = dataclasses.replace(fast, precision="fp32", channels_last=False)  # same optimizer kernel as fast
    setups = {"fp32": fp32, "fast": fast}
    previous = Path(args.out)
    # a run of one model keeps the other model's figures from an earlier run
    out = json.loads(previous.read_text()) if previous.exists() else {}
    out.update({"device": fast.device.type, "device_name": fast.device_name, "fast_precision": fast.precision,
                "fast_channels_last": fast.channels_last})
    if "cnn" in args.models:
        f = data.load_fashion_mnist(generator=config.seed_everything(0))
        for name, path in setups.items():
            probs, y, history = train_and_predict(RECIPES["report_cnn"], path, f, data.standardize(f.X_train))
            seconds = history["seconds"]
            acc = float((probs.argmax(1) == y).float().mean())
            out[f"cnn_{name}"] = {"test_accuracy": acc, "train_seconds": seconds,
                                  "fused_optimizer": path.fused_optimizer}
            print(f"report CNN, {name} ({path.precision}, channels_last={path.channels_last}): test accuracy "
                  f"{acc:.2%}, {seconds:.0f} s", flush=True)
        diff = 100 * (out["cnn_fast"]["test_accuracy"] - out["cnn_fp32"]["test_accuracy"])
        print(f"  difference: {diff:+.2f} points (tolerance 0.5)")
    if "segnet" in args.models:
        fac = facades.load_facades()
        for name, path in setups.items():
            probs, y, history = train_and_predict(RECIPES["report_segnet"], path, fac, facades.scale_photos)
            seconds = history["seconds"]
            ap = metrics.average_precision_per_class(probs.numpy(), y.numpy(), fac.classes)
            out[f"segnet_{name}"] = {"mean_ap": metrics.mean_ap(ap), "ap_per_class": ap.tolist(),
                                     "train_seconds": seconds}
            print(f"report segmentation net, {name} ({path.precision}, channels_last={path.channels_last}): mean AP "
                  f"{metrics.mean_ap(ap):.3f} ({', '.join(f'{a:.3f}' for a in ap)}), {seconds:.0f} s", flush=True)
        diff = out["segnet_fast"]["mean_ap"] - out["segnet_fp32"]["mean_ap"]
        print(f"  difference: {diff:+.3f} mean AP (tolerance 0.01)")
    write_json(args.out, out)


if __name__ == "__main__":
    main()

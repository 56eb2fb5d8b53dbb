import json

import pytest

from helpers import config, results


def _write(root, part, metrics):
    folder = root / "figures" / part
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_table_is_generated_from_metrics_files(tmp_path):
    _write(tmp_path, "classification", {"part": "classification", "models": [
        {"name": "report CNN", "test_accuracy": 0.9123, "hardest_class": "Shirt", "hardest_class_accuracy": 0.7,
         "epochs": 10, "train_seconds": 61.2, "device": "cpu", "precision": "bf16", "parameters": 225034},
        {"name": "strong CNN", "test_accuracy": 0.94, "hardest_class": "Shirt", "hardest_class_accuracy": 0.8,
         "epochs": 7, "train_seconds": 122.4, "device": "cpu", "precision": "bf16", "parameters": 5,
         "final_fit": True, "train_images": 60000}]})
    _write(tmp_path, "segmentation", {"part": "segmentation", "models": [
        {"name": "report net", "mean_ap": 0.6, "mean_iou": 0.42, "pixel_accuracy": 0.71, "epochs": 20,
         "train_seconds": 600, "device": "cuda", "device_name": "Tesla T4", "precision": "fp16", "parameters": 97189},
        {"name": "U-Net", "mean_ap": 0.75, "mean_iou": 0.5, "pixel_accuracy": 0.75, "epochs": 60,
         "train_seconds": 900, "device": "cuda", "device_name": "Tesla T4", "precision": "fp16", "parameters": 10,
         "ap_per_class": {"others": 0.7, "pillar": 0.4567}, "flip_tta": True}]})
    table = results.results_table(tmp_path)
    assert "| report CNN | 225,034 | 10 | 61 s | cpu, bf16 | accuracy 91.2 % (hardest: Shirt 70.0 %) |" in table
    assert ("| strong CNN | 5 | 7 | 122 s (2.00x report CNN) | cpu, bf16 | accuracy 94.0 % (hardest: Shirt 80.0 %), "
            "final fit on 60,000 training + validation images |") in table
    assert "| report net | 97,189 | 20 | 600 s | Tesla T4, fp16 | mean AP 0.600, mean IoU 0.420, pixel accuracy 71.0 % |" in table
    assert table.splitlines()[-1] == ("| segmentation (facades test_dev) | U-Net | 10 | 60 | 900 s (1.50x report net) | "
                                      "Tesla T4, fp16 | mean AP 0.750, mean IoU 0.500, pixel accuracy 75.0 %, "
                                      "pillar AP 0.457, with flip TTA |")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results.START}\nold\n{results.END}\nrest\n")
    assert results.update_readme(readme) is True
    assert results.update_readme(readme) is False
    assert readme.read_text() == f"intro\n{results.START}\n{table}\n{results.END}\nrest\n"
    (tmp_path / "other.md").write_text("no markers\n")
    with pytest.raises(ValueError, match="other.md lacks the markers <!-- RESULTS:START -->"):
        results.update_readme(tmp_path / "other.md")


def test_committed_readme_matches_committed_metrics():
    """The README's results table is exactly what the committed metrics files generate."""
    readme = (config.REPO_ROOT / "README.md").read_text()
    assert f"{results.START}\n{results.results_table(config.REPO_ROOT)}\n{results.END}" in readme

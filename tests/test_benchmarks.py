"""The benchmark scripts run end to end in a tiny configuration (no timing is asserted)."""
import importlib.util
import json
import sys

from helpers import config

BENCH = config.REPO_ROOT / "benchmarks"


def _load(name):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
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

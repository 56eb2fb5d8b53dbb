import json

from helpers import config, results


def _write(root, part, metrics):
    folder = root / "figures" / part
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))


def test_table_is_generated_from_metrics_files(tmp_path):
    _write(tmp_path, "classification", {
        "test_accuracy": 0.9123, "per_class_accuracy": {"Shirt": 0.7, "Bag": 0.98},
        "epochs": 10, "train_seconds": 61.2, "device": "cpu", "precision": "bf16", "parameters": 225034})
    _write(tmp_path, "segmentation", {
        "mean_ap": 0.6, "mean_iou": 0.42, "pixel_accuracy": 0.71, "epochs": 20, "train_seconds": 600,
        "device": "cuda", "device_name": "Tesla T4", "precision": "fp16", "parameters": 97189})
    table = results.results_table(tmp_path)
    assert "| report CNN | 225,034 | 10 | 61 s | cpu, bf16 | accuracy 91.2 % (hardest: Shirt 70.0 %) |" in table
    assert "| report net | 97,189 | 20 | 600 s | Tesla T4, fp16 | mean AP 0.600, mean IoU 0.420, pixel accuracy 71.0 % |" in table
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results.START}\nold\n{results.END}\nrest\n"
                      f"{results.BENCH_START}{results.BENCH_END}\n{results.PROFILE_START}{results.PROFILE_END}\n"
                      f"{results.PRECISION_START}{results.PRECISION_END}\n{results.OPS_START}{results.OPS_END}\n"
                      f"{results.EVAL_START}{results.EVAL_END}\n")
    assert results.update_readme(readme) is True
    assert results.update_readme(readme) is False
    assert readme.read_text().startswith(f"intro\n{results.START}\n{table}\n{results.END}\nrest\n")
    assert "run `make benchmark`" in readme.read_text()  # no benchmark file yet


def test_benchmark_and_profile_tables(tmp_path):
    (tmp_path / "benchmarks").mkdir()
    rows = [dict(model="report_cnn", pipeline=p, precision=pr, channels_last=cl, fused_optimizer=cl, phase=ph,
                 samples_per_s=v, speedup_vs_dataloader_fp32=v / base, speedup_range_over_rounds=[v / base - 0.25, v / base + 0.1])
            for p, pr, cl, base, vals in (("dataloader", "fp32", False, 100, (100, 1000)),
                                          ("in-memory", "bf16", True, 100, (350, 5000)))
            for ph, v in zip(("train", "eval"), vals)]
    (tmp_path / "benchmarks" / "results.json").write_text(json.dumps(
        dict(rows=rows, device_name="Some CPU", cores=2, threads=2, torch="2.x")))
    table = results.benchmark_table(tmp_path)
    assert "| report_cnn | dataloader | fp32 | False | False | 100.0 | 1,000.0 | 1.00x |  |" in table
    assert "| report_cnn | in-memory | bf16 | True | True | 350.0 | 5,000.0 | 3.50x | 3.25-3.60x |" in table
    (tmp_path / "benchmarks" / "profile.json").write_text(json.dumps(dict(
        device="cpu", threads=2, torch="2.x",
        rows=[dict(model="ReportCNN", setup="in-memory fp32", total_seconds=10.0,
                   seconds={"input": 1.0, "forward": 3.0, "backward": 4.0, "optimizer": 1.0, "evaluation": 1.0})])))
    assert "| ReportCNN | in-memory fp32 | 1.0 s (10 %) | 3.0 s (30 %) | 4.0 s (40 %)" in results.profile_table(tmp_path)


def test_precision_table(tmp_path):
    (tmp_path / "benchmarks").mkdir()
    assert "run `python benchmarks/precision_check.py`" in results.precision_table(tmp_path)
    (tmp_path / "benchmarks" / "precision_check.json").write_text(json.dumps(dict(
        device="cpu", fast_precision="bf16", fast_channels_last=True,
        cnn_fp32=dict(test_accuracy=0.9250, train_seconds=400.2), cnn_fast=dict(test_accuracy=0.9214, train_seconds=90),
        segnet_fp32=dict(mean_ap=0.614, train_seconds=2800), segnet_fast=dict(mean_ap=0.6213, train_seconds=800))))
    table = results.precision_table(tmp_path)
    assert "| report CNN | test accuracy | 92.50 % | 92.14 % | -0.36 | 0.5 points | 400 s | 90 s |" in table
    assert "| report segmentation net | mean AP (test) | 0.614 | 0.621 | +0.007 | 0.01 | 2800 s | 800 s |" in table


def test_ops_table(tmp_path):
    (tmp_path / "benchmarks").mkdir()
    assert "run `python benchmarks/profile_ops.py`" in results.ops_table(tmp_path)
    ops = [dict(op="convolution_backward", input_shapes=[[64, 64, 14, 14], [64, 32, 14, 14]], calls_per_step=1,
                ms_per_step=2.5, share=0.5),
           dict(op="_fused_adam_", input_shapes=[], calls_per_step=1, ms_per_step=0.5, share=0.1),
           dict(op="(all other operators)", input_shapes=[], calls_per_step=12.5, ms_per_step=2.0, share=0.4)]
    (tmp_path / "benchmarks" / "profile_ops.json").write_text(json.dumps(dict(
        device="cpu", threads=2, torch="2.x", precision="bf16", channels_last=True,
        models={"report_cnn": dict(batch_shape=[64, 1, 28, 28], fused_optimizer=True, wall_ms_per_step=5.25,
                                   profiled_ms_per_step=5.0, ops=ops)})))
    table = results.ops_table(tmp_path)
    assert "fast path (bf16 + channels_last)" in table
    assert "report_cnn, batch 64x1x28x28, fused Adam: 5.25 ms per training step" in table
    assert "(top 2 and the rest)" in table
    assert "| `convolution_backward` | 64x64x14x14, 64x32x14x14 | 1 | 2.50 | 50.0 % |" in table
    assert "| `_fused_adam_` |  | 1 | 0.50 | 10.0 % |" in table
    assert "| (all other operators) |  | 12.5 | 2.00 | 40.0 % |" in table


def test_eval_batch_table(tmp_path):
    (tmp_path / "benchmarks").mkdir()
    assert "run `python benchmarks/eval_batch.py`" in results.eval_batch_table(tmp_path)
    rows = [dict(model="report_cnn", batch_size=bs, samples_per_s=v, images=10_000, best=bs == 256,
                 notebooks=bs == 256) for bs, v in ((64, 9000.0), (256, 12000.0), (1000, 8000.0))]
    rows += [dict(model="unet", batch_size=bs, samples_per_s=v, images=106, best=bs == 2, notebooks=bs == 4)
             for bs, v in ((2, 60.0), (4, 55.0), (16, 40.0))]
    (tmp_path / "benchmarks" / "eval_batch.json").write_text(json.dumps(dict(
        rows=rows, device="cpu", threads=2, torch="2.x", precision="bf16", channels_last=True, rounds=3)))
    table = results.eval_batch_table(tmp_path)
    assert "bf16 + channels_last; evaluation samples/s (median of 3 passes)" in table
    assert "| report_cnn | 10,000 | 64: 9,000 · **256†: 12,000** · 1000: 8,000 | 1.50x |" in table
    assert "| unet | 106 | **2: 60** · 4†: 55 · 16: 40 | 1.38x |" in table


def test_committed_readme_matches_committed_metrics():
    """The README's generated tables are exactly what the committed metrics and
    benchmark files generate."""
    readme = (config.REPO_ROOT / "README.md").read_text()
    for start, end, table in results._blocks(config.REPO_ROOT):
        assert f"{start}\n{table}\n{end}" in readme

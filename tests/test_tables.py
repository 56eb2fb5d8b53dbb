"""The benchmarks' tables in benchmarks/README.md, generated from their JSON files."""
import json

from test_benchmarks import BENCH, _load

tables = _load("tables")


def test_benchmark_and_profile_tables(tmp_path):
    root = tmp_path / "benchmarks"
    root.mkdir()
    rows = [dict(model="report_cnn", pipeline=p, precision=pr, channels_last=cl, fused_optimizer=cl, phase=ph,
                 samples_per_s=v, speedup_vs_dataloader_fp32=v / base, speedup_range_over_rounds=[v / base - 0.25, v / base + 0.1])
            for p, pr, cl, base, vals in (("dataloader", "fp32", False, 100, (100, 1000)),
                                          ("in-memory", "bf16", True, 100, (350, 5000)))
            for ph, v in zip(("train", "eval"), vals)]
    (root / "results.json").write_text(json.dumps(
        dict(rows=rows, device_name="Some CPU", cores=2, threads=2, torch="2.x")))
    table = tables.benchmark_table(root)
    assert "| report_cnn | dataloader | fp32 | False | False | 100.0 | 1,000.0 | 1.00x |  |" in table
    assert "| report_cnn | in-memory | bf16 | True | True | 350.0 | 5,000.0 | 3.50x | 3.25-3.60x |" in table
    (root / "profile.json").write_text(json.dumps(dict(
        device="cpu", threads=2, torch="2.x",
        rows=[dict(model="ReportCNN", setup="in-memory fp32", total_seconds=10.0,
                   seconds={"input": 1.0, "forward": 3.0, "backward": 4.0, "optimizer": 1.0, "evaluation": 1.0})])))
    assert "| ReportCNN | in-memory fp32 | 1.0 s (10 %) | 3.0 s (30 %) | 4.0 s (40 %)" in tables.profile_table(root)


def test_precision_table(tmp_path):
    root = tmp_path / "benchmarks"
    root.mkdir()
    assert "run `python benchmarks/precision_check.py`" in tables.precision_table(root)
    (root / "precision_check.json").write_text(json.dumps(dict(
        device="cpu", fast_precision="bf16", fast_channels_last=True,
        cnn_fp32=dict(test_accuracy=0.9250, train_seconds=400.2), cnn_fast=dict(test_accuracy=0.9214, train_seconds=90),
        segnet_fp32=dict(mean_ap=0.614, train_seconds=2800), segnet_fast=dict(mean_ap=0.6213, train_seconds=800))))
    table = tables.precision_table(root)
    assert "| report CNN | test accuracy | 92.50 % | 92.14 % | -0.36 | 0.5 points | 400 s | 90 s |" in table
    assert "| report segmentation net | mean AP (test) | 0.614 | 0.621 | +0.007 | 0.01 | 2800 s | 800 s |" in table


def test_ops_table(tmp_path):
    root = tmp_path / "benchmarks"
    root.mkdir()
    assert "run `python benchmarks/profile_ops.py`" in tables.ops_table(root)
    ops = [dict(op="convolution_backward", input_shapes=[[64, 64, 14, 14], [64, 32, 14, 14]], calls_per_step=1,
                ms_per_step=2.5, share=0.5),
           dict(op="_fused_adam_", input_shapes=[], calls_per_step=1, ms_per_step=0.5, share=0.1),
           dict(op="(all other operators)", input_shapes=[], calls_per_step=12.5, ms_per_step=2.0, share=0.4)]
    (root / "profile_ops.json").write_text(json.dumps(dict(
        device="cpu", threads=2, torch="2.x", precision="bf16", channels_last=True,
        models={"report_cnn": dict(batch_shape=[64, 1, 28, 28], fused_optimizer=True, wall_ms_per_step=5.25,
                                   profiled_ms_per_step=5.0, ops=ops)})))
    table = tables.ops_table(root)
    assert "fast path (bf16 + channels_last)" in table
    assert "report_cnn, batch 64x1x28x28, fused Adam: 5.25 ms per training step" in table
    assert "(top 2 and the rest)" in table
    assert "| `convolution_backward` | 64x64x14x14, 64x32x14x14 | 1 | 2.50 | 50.0 % |" in table
    assert "| `_fused_adam_` |  | 1 | 0.50 | 10.0 % |" in table
    assert "| (all other operators) |  | 12.5 | 2.00 | 40.0 % |" in table


def test_eval_batch_table(tmp_path):
    root = tmp_path / "benchmarks"
    root.mkdir()
    assert "run `python benchmarks/eval_batch.py`" in tables.eval_batch_table(root)
    rows = [dict(model="report_cnn", batch_size=bs, samples_per_s=v, images=10_000, best=bs == 256,
                 notebooks=bs == 256) for bs, v in ((64, 9000.0), (256, 12000.0), (1000, 8000.0))]
    rows += [dict(model="unet", batch_size=bs, samples_per_s=v, images=106, best=bs == 2, notebooks=bs == 4)
             for bs, v in ((2, 60.0), (4, 55.0), (16, 40.0))]
    (root / "eval_batch.json").write_text(json.dumps(dict(
        rows=rows, device="cpu", threads=2, torch="2.x", precision="bf16", channels_last=True, rounds=3)))
    table = tables.eval_batch_table(root)
    assert "bf16 + channels_last; evaluation samples/s (median of 3 passes)" in table
    assert "| report_cnn | 10,000 | 64: 9,000 · **256†: 12,000** · 1000: 8,000 | 1.50x |" in table
    assert "| unet | 106 | **2: 60** · 4†: 55 · 16: 40 | 1.38x |" in table


def test_gpu_table(tmp_path):
    assert "No GPU run yet" in tables.gpu_table(tmp_path)
    check = dict(tiny=False, torch="2.x", cuda="12.8", fast_path=dict(
        device="cuda", device_name="Tesla T4", capability="7.5", precision="fp16",
        reason="Tesla T4, capability 7.5: fp16 autocast + GradScaler (no bf16 units below capability 8.0)"),
        throughput=[dict(model="report_cnn", precision=p, batch_shape=[64, 1, 28, 28], train_samples_per_s=v)
                    for p, v in (("fp32", 20000.0), ("fp16", 30000.4))],
        report_cnn_10_epochs=dict(epochs=10, precision="fp16", train_seconds=41.25, test_accuracy=0.9237,
                                  skipped_steps=3))
    (tmp_path / "gpu.json").write_text(json.dumps(check))
    table = tables.gpu_table(tmp_path)
    assert "on Tesla T4, capability 7.5, torch 2.x (CUDA 12.8); the notebooks pick: Tesla T4" in table
    assert "| model | training batch | fp32 samples/s | fp16 samples/s |" in table
    assert "| report_cnn | 64x1x28x28 | 20,000 | 30,000 |" in table
    assert "10 epochs in fp16 with the data held on the GPU: 41.2 s" in table and "92.37 %" in table
    (tmp_path / "gpu.json").write_text(json.dumps(dict(check, tiny=True)))  # a CPU rehearsal is not shown
    assert "No GPU run yet" in tables.gpu_table(tmp_path)


def test_committed_benchmark_readme_matches_committed_files():
    readme = (BENCH / "README.md").read_text()
    for start, end, table in tables.blocks():
        assert f"{start}\n{table}\n{end}" in readme

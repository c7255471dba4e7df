"""Trackers (issue 25, item 1): ``logger=csv|tensorboard|mlflow|wandb`` log a run's config, tags, name,
per-step metrics, summary and files; each is read back with the tracker's own reader. The tracker libraries are
optional extras (``make install`` installs them); where one is absent its test is skipped."""

from __future__ import annotations

import glob
import struct

import pandas as pd
import pytest
import yaml

SCAN = ("metastable-scan", "num_patterns=8", "dim=8", "num_queries=4", "num_betas=3")


def _run(run_cli, tmp_path, *args):
    out = tmp_path / "run"
    ran = run_cli(*SCAN, *args, "tags=[d8,smoke]", "run_name=scan-1", f"hydra.run.dir={out}")
    assert ran.returncode == 0, ran.stderr
    return out


def test_csv_logger_writes_params_and_metrics(run_cli, tmp_path):
    out = _run(run_cli, tmp_path, "logger=csv", "plots=false")
    params = yaml.safe_load((out / "csv" / "params.yaml").read_text())
    assert params["name"] == "scan-1" and params["tags"] == ["d8", "smoke"]
    assert params["params"]["num_betas"] == 3 and params["params"]["command"] == "metastable-scan"
    metrics = pd.read_csv(out / "csv" / "metrics.csv")
    per_beta = metrics[metrics["step"].notna()]
    assert sorted(per_beta["step"].unique()) == [0, 1, 2] and "beta" in set(per_beta["metric"])
    assert "num_patterns" in set(metrics[metrics["step"].isna()]["metric"])  # the summary, without a step


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_tensorboard_logger_read_back_with_its_event_reader(run_cli, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = _run(run_cli, tmp_path, "logger=tensorboard")
    events = EventAccumulator(str(out / "tensorboard" / "scan-1"), size_guidance={"images": 0}).Reload()
    tags = events.Tags()
    assert [e.step for e in events.Scalars("beta")] == [0, 1, 2]
    assert "summary/num_patterns" in tags["scalars"]
    assert any(t.startswith("figures/") for t in tags["images"])  # the run's figures
    assert {"config/text_summary", "tags/text_summary"} <= set(tags["tensors"])


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_mlflow_logger_read_back_with_search_runs(run_cli, tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store = tmp_path / "mlruns"
    _run(run_cli, tmp_path, "logger=mlflow", f"logger.mlflow.tracking_uri=file:{store}", "plots=false")
    mlflow.set_tracking_uri(f"file:{store}")
    runs = mlflow.search_runs(experiment_names=["hopfield-metastable-scan"])
    assert len(runs) == 1
    run = runs.iloc[0]
    assert run["tags.mlflow.runName"] == "scan-1" and run["tags.d8"] == "true" and run["status"] == "FINISHED"
    assert run["params.num_betas"] == "3" and run["metrics.num_patterns"] == 8.0
    client = mlflow.tracking.MlflowClient()
    assert [m.step for m in client.get_metric_history(run["run_id"], "beta")] == [0, 1, 2]
    files = {a.path for a in client.list_artifacts(run["run_id"])}
    assert {"summary.json", "betas.parquet", "betas.csv"} <= files


def _wandb_records(path):
    """The records of a W&B ``.wandb`` file, parsed with W&B's own protobuf schema (the file is a LevelDB-style
    log: a 7-byte header, then 32 KiB blocks of chunks, each with a 7-byte header: CRC, length, kind)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = open(path, "rb").read()
    assert data[:4] == b":W&B"
    pos, block, buf, out = 7, 32768, b"", []
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 and length == 0:
            break
        buf += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a whole record, or the last chunk of one
            record = pb.Record()
            record.ParseFromString(buf)
            out.append(record)
            buf = b""
    return out


@pytest.mark.e2e  # a whole-process session, minutes under load: make test-e2e (README, test budget)
def test_wandb_logger_offline_read_back(run_cli, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = _run(run_cli, tmp_path, "logger=wandb", "plots=false")
    (path,) = glob.glob(str(out / "wandb" / "offline-run-*" / "run-*.wandb"))
    records = _wandb_records(path)
    kinds = [r.WhichOneof("record_type") for r in records]
    (run,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert run.display_name == "scan-1" and list(run.tags) == ["d8", "smoke"]
    config = {i.key: i.value_json for i in run.config.update}
    assert config["num_betas"] == "3" and config["command"] == '"metastable-scan"'
    history = [r.history for r in records if r.HasField("history")]
    assert [h.step.num for h in history] == [0, 1, 2]
    assert all("beta" in {"/".join(i.nested_key) or i.key for i in h.item} for h in history)
    (artifact,) = [r.artifact for r in records if r.WhichOneof("record_type") == "artifact"]
    assert "summary.json" in {m.path for m in artifact.manifest.contents} and "exit" in kinds


def test_a_missing_extra_is_one_line(run_cli, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "mlflow" else real(name, *a)
    )
    ran = run_cli("retrieve", "logger=[csv,mlflow]", f"hydra.run.dir={tmp_path / 'x'}")
    assert ran.returncode == 2
    assert (
        ran.stderr.strip()
        == "error: logger: mlflow needs the mlflow extra: pip install 'hopfield-cli[mlflow]'"
    )
    assert not (tmp_path / "x").exists()

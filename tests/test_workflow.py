"""The Snakemake workflow (workflows/): dry runs, a real sharded run, and shards = whole run.

The real run scores 24 demo regions (6 per class) with 2 shuffles in 2 shards
on 2 cores, merges them, reports two methods and draws one logo; the same
regions are then scored unsharded and every array of the two runs is compared
for equality.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "demo"
SNAKEFILE = ROOT / "workflows" / "Snakefile"
BIN = Path(sys.executable).parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
PER_CLASS = 6


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # the rules call seqlift and modisco
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _snakemake(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([*SNAKEMAKE, *args], cwd=cwd, env=_env(), capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def _small_config(tmp: Path, **changes) -> dict:
    """24 demo regions, 2 shuffles, 2 shards, a 2-method report, one logo, no modisco."""
    labels = pd.read_csv(DEMO / "labels.tsv", sep="\t")
    keep = set(labels.groupby("class").head(PER_CLASS)["name"])
    bed = pd.read_csv(DEMO / "regions.bed", sep="\t", header=None)
    bed[bed[3].isin(keep)].to_csv(tmp / "regions.bed", sep="\t", header=False, index=False)
    config = {
        "outdir": "out",
        "seqlift": str(BIN / "seqlift"),
        "model": str(DEMO / "model.h5"),
        "regions": str(tmp / "regions.bed"),
        "genome": str(DEMO / "genome.fa"),
        "shuffles": 2,
        "shards": 2,
        "report": {"enabled": True, "labels": str(DEMO / "labels.tsv"), "truth": str(DEMO / "instances.tsv"),
                   "motifs": str(DEMO / "motifs.meme"), "methods": ["grad_x_input", "genomics_default_shuffled"]},
        "logos": {"top": 1, "tasks": [0], "instances": str(DEMO / "instances.tsv")},
        "modisco": {"enabled": False},
        "resources": {kind: {"threads": 1, "mem_mb": 1000, "runtime": 10}
                      for kind in ("data", "score", "merge", "report", "logos", "modisco")},
    }
    config.update(changes)
    return config


def _write(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config))
    return path


def _jobs(dry_run_output: str) -> dict[str, int]:
    """The job-count table of a dry run."""
    counts = {}
    lines = dry_run_output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("job ") and "count" in line)
    for line in lines[start + 2:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


# ------------------------------------------------------------------ dry runs
def _checkout_view(folder: Path) -> Path:
    """``folder`` made to look like the repository root (data/ and workflows/ linked), for the shipped config."""
    for name in ("data", "workflows"):
        (folder / name).symlink_to(ROOT / name)
    return folder


@pytest.fixture()
def checkout_view(tmp_path: Path) -> Path:
    return _checkout_view(tmp_path)


@pytest.fixture(scope="module")
def shipped_dry_run(tmp_path_factory) -> tuple[Path, str]:
    """One dry run of the shipped demo config, commands printed, as on 16 cores: (its folder, its output)."""
    view = _checkout_view(tmp_path_factory.mktemp("shipped"))
    result = _snakemake(["-s", "workflows/Snakefile", "-n", "-p", "--cores", "16"], cwd=view)
    return view, result.stdout + result.stderr


def test_dry_run_of_the_shipped_demo_config(shipped_dry_run):
    checkout_view, out = shipped_dry_run
    assert _jobs(out) == {"report": 1, "score_shard": 2, "merge": 1, "logos": 1, "modisco_motifs": 2,
                          "modisco_report": 2, "all": 1}
    assert "--shard 1/2" in out and "--shard 2/2" in out and "--shuffles 10" in out
    assert "--labels data/demo/labels.tsv --truth data/demo/instances.tsv" in out
    assert not (checkout_view / "demo-out").exists()  # a dry run writes no output


def test_dry_run_of_the_slurm_profile(checkout_view):
    profile = yaml.safe_load((ROOT / "workflows" / "profiles" / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm" and profile["retries"] >= 1
    args = ["-s", "workflows/Snakefile", "--profile", "workflows/profiles/slurm", "-n"]
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        args += ["--executor", "local"]  # the plugin is not installed here: check every other setting
    result = _snakemake(args, cwd=checkout_view)
    assert "Using profile workflows/profiles/slurm" in result.stdout + result.stderr
    assert _jobs(result.stdout + result.stderr)["score_shard"] == 2


def test_rules_declare_threads_memory_and_runtime(shipped_dry_run):
    blocks = shipped_dry_run[1].split("\n\n")
    for rule in ("score_shard", "merge", "report", "logos", "modisco_motifs", "modisco_report"):
        block = next(b for b in blocks if f"rule {rule}:" in b)
        assert "mem_mb=" in block and "runtime=" in block, block
    score = next(b for b in blocks if "rule score_shard:" in b)
    assert "threads: 2" in score


def test_dry_run_of_the_figure5_target(checkout_view):
    """The seeds experiment as shipped: 3 seeds trained, reported and answered, the demo beside them."""
    result = _snakemake(["-s", "workflows/Snakefile", "-n", "-p", "figure5"], cwd=checkout_view)
    out = result.stdout + result.stderr
    assert _jobs(out) == {"figure5_train": 3, "figure5_report": 4, "figure5_answers": 4, "figure5_tables": 1,
                          "figure5": 1}
    for seed in (1, 2, 3):
        assert f"train-sim demo-out/figure5/seed_{seed} --seed {seed} --n-per-class 2000 --epochs 100" in out
    assert "report --model data/demo/model.h5 --bed data/demo/regions.bed" in out
    assert "--out demo-out/figure5/demo/report" in out
    assert ("figure5 tables --out demo-out/figure5/figure5_tables.md --demo-run demo-out/figure5/demo/report "
            "data/demo/metrics.json --seed-run 1 demo-out/figure5/seed_1/report") in out
    # the paper's data is not beside this checkout: said, and left out
    assert "not the paper's model (../shared/paper-genomics lacks model.json" in out
    assert not (checkout_view / "demo-out").exists()


def test_dry_run_of_figure5_with_the_paper_and_train_sim_motifs(tmp_path):
    paper = tmp_path / "paper"
    paper.mkdir()
    for name in ("model.json", "model_weights.h5", "sequences.simdata.gz", "test.txt.gz"):
        (paper / name).write_text("")  # a dry run only needs the files to exist
    settings = _small_config(tmp_path, figure5={"seeds": [4], "n_per_class": 20, "epochs": 1, "demo": None,
                                                "paper": str(paper), "motifs": "m.meme"})
    config = _write(tmp_path / "f5.yaml", settings)
    result = _snakemake(["-s", str(SNAKEFILE), "--configfile", str(config), "-n", "-p", "figure5"], cwd=tmp_path)
    out = result.stdout + result.stderr
    assert _jobs(out) == {"figure5_train": 1, "figure5_report": 1, "figure5_paper_report": 1, "figure5_answers": 2,
                          "figure5_tables": 1, "figure5": 1}
    assert "train-sim out/figure5/seed_4 --seed 4 --n-per-class 20 --epochs 1 --motifs m.meme" in out
    assert f"--weights {paper}/model_weights.h5 --paper-simdata {paper}/sequences.simdata.gz" in out
    assert "--paper-run out/figure5/paper/report" in out and "--demo-run" not in out


def test_dry_run_of_the_figure5_encode_control(checkout_view):
    args = ["-s", "workflows/Snakefile", "--configfile", "workflows/figure5_encode.yaml", "-n", "-p", "figure5"]
    result = _snakemake(args, cwd=checkout_view)
    out = result.stdout + result.stderr
    assert _jobs(out) == {"figure5_train": 3, "figure5_report": 3, "figure5_answers": 3, "figure5_tables": 1,
                          "figure5": 1}
    assert "train-sim demo-out/figure5_encode/seed_3 --seed 3 --n-per-class 2000 --epochs 100 " \
           "--motifs data/motifs/encode_tal1_gata.meme" in out


def test_bad_figure5_seeds_stop_with_one_line(tmp_path):
    config = _write(tmp_path / "bad.yaml", _small_config(tmp_path, figure5={"seeds": [1, 1]}))
    result = subprocess.run([*SNAKEMAKE, "-s", str(SNAKEFILE), "--configfile", str(config), "-n", "figure5"],
                            cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert ("seqlift workflow config: figure5: seeds: expected a list of distinct seeds (integers >= 0), got [1, 1]"
            in result.stdout + result.stderr)


def test_simulate_and_train_sources_plan_their_data(tmp_path):
    for source, rule in (("simulate", "simulate"), ("train", "train_sim")):
        config = _write(tmp_path / f"{source}.yaml", _small_config(tmp_path, source=source, shards=1))
        result = _snakemake(["-s", str(SNAKEFILE), "--configfile", str(config), "-n", "-p"], cwd=tmp_path)
        out = result.stdout + result.stderr
        jobs = _jobs(out)
        assert jobs[rule] == 1 and jobs["score"] == 1 and "merge" not in jobs
        assert "out/data/regions.bed" in out and "--labels out/data/labels.tsv" in out
        if source == "train":
            assert "--model out/data/model.h5" in out
    # the simulate job for real: it writes every file the rule declares (a missing one fails the job)
    config = _write(tmp_path / "simulate.yaml", _small_config(tmp_path, source="simulate", shards=1,
                                                                simulate={"n_per_class": 4, "seed": 1}))
    _snakemake(["-s", str(SNAKEFILE), "--configfile", str(config), "--cores", "1", "out/data/regions.bed"],
               cwd=tmp_path)
    labels = pd.read_csv(tmp_path / "out" / "data" / "labels.tsv", sep="\t")
    assert len(labels) == 16 and (tmp_path / "out" / "data" / "genome.fa").stat().st_size > 0


def test_the_commands_decide_what_the_regions_are_and_check_the_tasks(tmp_path):
    """The workflow passes settings on: a FASTA named like anything goes to --regions, lists become 0,2."""
    (tmp_path / "sequences.txt").write_bytes((DEMO / "sequences.fa").read_bytes())
    config = _write(tmp_path / "fasta.yaml", _small_config(tmp_path, regions=str(tmp_path / "sequences.txt"),
                                                           tasks=[0, 2], shards=1))
    result = _snakemake(["-s", str(SNAKEFILE), "--configfile", str(config), "-n", "-p"], cwd=tmp_path)
    out = result.stdout + result.stderr
    assert f"report --model {DEMO / 'model.h5'} --regions {tmp_path / 'sequences.txt'} --genome" in out
    assert "--task 0,2" in out and "--fasta" not in out and "--bed" not in out


def test_bad_settings_stop_with_one_line(tmp_path):
    config = _write(tmp_path / "bad.yaml", _small_config(tmp_path, shards=0))
    result = subprocess.run([*SNAKEMAKE, "-s", str(SNAKEFILE), "--configfile", str(config), "-n"], cwd=tmp_path,
                            env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "seqlift workflow config: shards: expected a positive integer, got 0" in result.stdout + result.stderr


def test_usable_as_a_module(tmp_path):
    settings = _small_config(tmp_path, outdir="scored")
    (tmp_path / "outer.yaml").write_text(yaml.safe_dump({"seqlift": settings}))
    (tmp_path / "Snakefile").write_text(f"""
configfile: "outer.yaml"

module seqlift:
    snakefile: {str(SNAKEFILE)!r}
    config: config["seqlift"]

use rule * from seqlift as seqlift_*

rule downstream:
    input: "scored/scores/scores.h5"
    output: "downstream.txt"
    shell: "ls -l {{input}} > {{output}}"

rule all:
    input: rules.seqlift_all.input, "downstream.txt"
    default_target: True
""")
    result = _snakemake(["-n"], cwd=tmp_path)
    jobs = _jobs(result.stdout + result.stderr)
    assert jobs == {"seqlift_score_shard": 2, "seqlift_merge": 1, "seqlift_report": 1, "seqlift_logos": 1,
                    "downstream": 1, "all": 1}


# ------------------------------------------------------------------ real runs
@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A sharded run of the whole small workflow, and an unsharded run of its scores."""
    tmp = tmp_path_factory.mktemp("workflow")
    sharded = _write(tmp / "sharded.yaml", _small_config(tmp))
    _snakemake(["-s", str(SNAKEFILE), "--configfile", str(sharded), "--cores", "2"], cwd=tmp)
    whole = _write(tmp / "whole.yaml", _small_config(tmp, shards=1, outdir="out1"))
    _snakemake(["-s", str(SNAKEFILE), "--configfile", str(whole), "--cores", "2", "out1/scores/scores.h5"], cwd=tmp)
    return {"sharded": tmp / "out", "whole": tmp / "out1"}


def test_real_run_writes_every_output(runs):
    out = runs["sharded"]
    for name in ("scores/scores.h5", "scores/scores.ohe.npz", "scores/scores.task0.hyp.npz",
                 "scores/scores.task2.hyp.npz", "scores/scores.regions.bed", "scores/scores.dropped.tsv",
                 "report/report.html", "report/summary.md", "logos/index.tsv"):
        assert (out / name).stat().st_size > 0, name
    for shard in (1, 2):
        assert (out / "shards" / f"shard{shard}of2.h5").exists()
        assert not (out / "shards" / f"shard{shard}of2.ohe.npz").exists()  # the merge has them
    with h5py.File(out / "scores" / "scores.h5") as f:
        assert f["contributions"].shape == (3, 4 * PER_CLASS, 200, 4)
        assert list(f["tasks"][:]) == [0, 1, 2]
    logos = pd.read_csv(out / "logos" / "index.tsv", sep="\t")
    assert len(logos) == 1 and (out / "logos" / logos["file"][0]).stat().st_size > 1000
    summary = (out / "report" / "summary.md").read_text()
    assert "gradient x input" in summary and "genomics default, 2 dinucleotide shuffles" in summary


def _datasets(path: Path) -> dict[str, np.ndarray]:
    found = {}
    with h5py.File(path) as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return found


def test_sharded_run_equals_unsharded_array_for_array(runs):
    merged = _datasets(runs["sharded"] / "scores" / "scores.h5")
    whole = _datasets(runs["whole"] / "scores" / "scores.h5")
    compared = [name for name in whole if name != "progress"]  # progress records how the file was written
    assert {"onehot", "contributions", "hypothetical", "deltas", "target_deltas", "windows/row"} <= set(compared)
    assert set(merged) >= set(compared)
    for name in compared:
        a, b = merged[name], whole[name]
        assert a.shape == b.shape and a.dtype == b.dtype, name
        if a.dtype.kind == "f":
            assert float(np.max(np.abs(a - b), initial=0.0)) == 0.0, name
        else:
            assert np.array_equal(a, b), name
    assert np.abs(merged["contributions"]).sum() > 0  # not vacuously equal
    for suffix in ("ohe.npz", "task0.hyp.npz", "task1.hyp.npz", "task2.hyp.npz"):
        a = np.load(runs["sharded"] / "scores" / f"scores.{suffix}")["arr_0"]
        b = np.load(runs["whole"] / "scores" / f"scores.{suffix}")["arr_0"]
        assert np.array_equal(a, b), suffix
    for suffix in ("regions.bed", "dropped.tsv"):
        assert (runs["sharded"] / "scores" / f"scores.{suffix}").read_text() == \
            (runs["whole"] / "scores" / f"scores.{suffix}").read_text()


def test_rerun_has_nothing_to_do(runs):
    config = runs["sharded"].parent / "sharded.yaml"
    result = _snakemake(["-s", str(SNAKEFILE), "--configfile", str(config), "-n"], cwd=runs["sharded"].parent)
    assert "Nothing to be done" in result.stdout + result.stderr

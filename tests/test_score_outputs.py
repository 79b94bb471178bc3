"""The files ``seqlift score`` writes: HDF5 layout, modisco-lite npz, narrowPeak, bigWig, atomicity.

One run of the command (a subprocess, task 1 only, ``--off-chrom pad`` so two
windows hang off the start of chr2, ``--bigwig``) is checked against the
genome and against independent computations; the publishing of files is
checked in-process on small hand-made score files.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_score_cli import DROPPED_ROWS, LENGTH, N_REGIONS, SMALL, seqlift, write_inputs

from seqlift.scoring.outputs import output_names, write_outputs
from seqlift.scoring.store import ScoreStore

BASES = "ACGT"


def read_genome(path: Path) -> dict[str, str]:
    sequences: dict[str, list[str]] = {}
    name = ""
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:].split()[0]
            sequences[name] = []
        else:
            sequences[name].append(line.strip())
    return {chrom: "".join(parts) for chrom, parts in sequences.items()}


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("score_outputs")
    inputs = write_inputs(folder / "inputs")
    prefix = folder / "out" / "scores"
    done = seqlift("score", inputs["peaks"], "--model", inputs["model"], "--genome", inputs["genome"], *SMALL,
                   "--task", "1", "--off-chrom", "pad", "--bigwig", "--chunk-size", "7", "--out", prefix, cwd=folder)
    assert done.returncode == 0, done.stderr
    with h5py.File(f"{prefix}.h5") as f:
        windows = {name: (f["windows"][name].asstr()[()] if f["windows"][name].dtype.kind == "O"
                          else f["windows"][name][()]) for name in f["windows"]}
        arrays = {name: f[name][()] for name in ("onehot", "contributions", "hypothetical", "deltas", "target_deltas")}
    return {"folder": folder, "prefix": prefix, "inputs": inputs, "windows": windows, "arrays": arrays,
            "genome": read_genome(inputs["genome"])}


# --------------------------------------------------------------------------- HDF5
def test_the_run_writes_exactly_the_single_task_files(run):
    names = sorted(p.name for p in run["prefix"].parent.iterdir())
    assert names == ["scores.bw", "scores.dropped.tsv", "scores.h5", "scores.hyp.npz", "scores.ohe.npz",
                     "scores.regions.bed"]
    assert (run["prefix"].parent / "scores.dropped.tsv").read_text() == \
        "row\tline\tchrom\tstart\tend\tname\tunknown\treason\n"


def test_hdf5_layout_is_the_documented_one(run):
    n = N_REGIONS  # --off-chrom pad keeps every region
    with h5py.File(f"{run['prefix']}.h5") as f:
        expected = {
            "onehot": ((n, LENGTH, 4), np.uint8),
            "contributions": ((1, n, LENGTH, 4), np.float32),
            "hypothetical": ((1, n, LENGTH, 4), np.float32),
            "deltas": ((1, n), np.float32),
            "target_deltas": ((1, n), np.float32),
            "tasks": ((1,), np.int64),
            "windows/start": ((n,), np.int64),
            "windows/row": ((n,), np.int64),
            "dropped/row": ((0,), np.int64),
            "chrom_sizes/length": ((2,), np.int64),
        }
        for name, (shape, dtype) in expected.items():
            assert f[name].shape == shape and f[name].dtype == dtype, name
        for name in ("onehot", "contributions", "hypothetical", "deltas"):
            assert f[name].chunks is not None and f[name].compression == "gzip", name
            assert f[name].maxshape[-3 if f[name].ndim > 2 else -1] is None or f[name].maxshape[1] is None
        assert list(f["tasks"][()]) == [1]
        assert list(f["chrom_sizes/name"].asstr()[()]) == ["chr1", "chr2"]
        assert list(f["chrom_sizes/length"][()]) == [6000, 3000]
        parameters = json.loads(f.attrs["parameters"])
        versions = json.loads(f.attrs["versions"])
        assert f.attrs["format"] == "seqlift-score" and bool(f.attrs["complete"])
        assert parameters["seed"] == int(f.attrs["seed"]) == 0
        assert parameters["tasks"] == [1] and parameters["shuffles"] == 6 and parameters["off_chrom"] == "pad"
        assert parameters["width"] == LENGTH and parameters["batch_size"] == 3
        assert {"seqlift", "tensorflow", "keras", "numpy", "h5py", "python"} <= set(versions)


def test_rows_are_the_genome_windows_in_input_order(run):
    windows, onehot = run["windows"], run["arrays"]["onehot"]
    assert list(windows["row"]) == list(range(N_REGIONS))
    assert list(windows["name"]) == [f"peak{i}" for i in range(N_REGIONS)]
    assert list(windows["strand"]) == ["+-."[i % 3] for i in range(N_REGIONS)]
    for i in range(N_REGIONS):
        chrom, start, end = windows["chrom"][i], int(windows["start"][i]), int(windows["end"][i])
        assert end - start == LENGTH
        genome = run["genome"][chrom]
        text = "N" * max(0, -start) + genome[max(0, start):end]
        expected = np.array([[base == b for b in BASES] for base in text.upper()], dtype=np.uint8)
        assert np.array_equal(onehot[i], expected), i
    assert all(windows["start"][i] < 0 for i in DROPPED_ROWS)  # padded, not dropped


def test_scores_are_consistent_with_the_sequences(run):
    a = run["arrays"]
    x = a["onehot"].astype(np.float32)
    per_base = a["contributions"][0].sum(axis=-1)
    has_base = x.sum(axis=-1) == 1  # at N (all-zero) positions a reference's base still contributes
    assert (~has_base).any()
    np.testing.assert_allclose(per_base[has_base], (a["hypothetical"][0] * x).sum(axis=-1)[has_base], atol=1e-5)
    np.testing.assert_allclose(a["contributions"][0].sum(axis=(1, 2)) + a["deltas"][0], a["target_deltas"][0],
                               rtol=1e-4, atol=1e-4)
    assert np.abs(a["deltas"]).max() < 1e-3  # DeepLIFT's summation to delta
    assert np.isfinite(a["contributions"]).all() and np.abs(per_base).max() > 0


# --------------------------------------------------------------------------- modisco-lite
def test_npz_files_are_what_modisco_lite_reads(run):
    prefix = run["prefix"]
    ohe = np.load(f"{prefix}.ohe.npz")
    hyp = np.load(f"{prefix}.hyp.npz")
    assert ohe.files == ["arr_0"] and hyp.files == ["arr_0"]
    assert ohe["arr_0"].shape == hyp["arr_0"].shape == (N_REGIONS, 4, LENGTH)
    assert ohe["arr_0"].dtype == hyp["arr_0"].dtype == np.float32
    assert np.array_equal(ohe["arr_0"], run["arrays"]["onehot"].transpose(0, 2, 1))
    assert np.array_equal(hyp["arr_0"], run["arrays"]["hypothetical"][0].transpose(0, 2, 1))

    beside_python = Path(sys.executable).with_name("modisco")  # modisco-lite of this environment
    modisco = str(beside_python) if beside_python.exists() else shutil.which("modisco")
    assert modisco, "modisco-lite's modisco command is not installed"
    out = run["folder"] / "modisco.h5"
    done = subprocess.run([modisco, "motifs", "-s", f"{prefix}.ohe.npz", "-a", f"{prefix}.hyp.npz", "-n", "2000",
                           "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert out.exists()


# --------------------------------------------------------------------------- BED
def test_regions_bed_is_narrowpeak_aligned_with_the_arrays(run):
    lines = Path(f"{run['prefix']}.regions.bed").read_text().splitlines()
    assert len(lines) == N_REGIONS
    windows = run["windows"]
    for i, line in enumerate(lines):
        fields = line.split("\t")
        assert len(fields) == 11
        chrom, start, end, name, score, strand, signal, p, q, summit, unknown = fields
        centre = int(windows["start"][i]) + LENGTH // 2
        assert (chrom, name, strand) == (windows["chrom"][i], windows["name"][i], windows["strand"][i])
        assert int(start) == max(0, int(windows["start"][i]))  # padded windows clipped to the contig
        assert int(end) == min(int(windows["end"][i]), 3000 if chrom == "chr2" else 6000)
        assert int(start) + int(summit) == centre
        assert (score, signal, p, q) == ("0", "-1", "-1", "-1")
        assert int(unknown) == int((run["arrays"]["onehot"][i].sum(axis=-1) == 0).sum())  # N, IUPAC and padding
    assert all(lines[i].split("\t")[1] == "0" for i in DROPPED_ROWS)
    assert all(int(lines[i].split("\t")[10]) == 180 for i in DROPPED_ROWS)  # padded off the start of chr2


# --------------------------------------------------------------------------- bigWig
def _expected_track(run: dict, chrom: str, size: int) -> np.ndarray:
    """Per-base contributions, each position from the covering window with the nearest centre.

    Equally near: the right-hand window; identical windows: the first in input order.
    """
    windows, per_base = run["windows"], run["arrays"]["contributions"][0].sum(axis=-1)
    track = np.full(size, np.nan)
    best_distance = np.full(size, np.inf)
    best_centre = np.full(size, -1)
    for i in np.flatnonzero(windows["chrom"] == chrom):
        start = int(windows["start"][i])
        centre = start + LENGTH // 2
        for offset in range(LENGTH):
            position = start + offset
            if not 0 <= position < size:
                continue
            distance = abs(position - centre)
            if distance < best_distance[position] or (
                    distance == best_distance[position] and centre > best_centre[position]):
                best_distance[position], best_centre[position] = distance, centre
                track[position] = per_base[i, offset]
    return track


def test_bigwig_holds_per_base_contributions_split_at_midpoints(run):
    import pyBigWig

    bw = pyBigWig.open(f"{run['prefix']}.bw")
    try:
        assert bw.isBigWig()
        assert bw.chroms() == {"chr1": 6000, "chr2": 3000}
        for chrom, size in bw.chroms().items():
            intervals = bw.intervals(chrom)
            starts = [start for start, _, _ in intervals]
            assert starts == sorted(starts)
            assert all(a[1] <= b[0] for a, b in zip(intervals, intervals[1:]))
            assert all(np.isfinite(value) for _, _, value in intervals)
            got = np.array(bw.values(chrom, 0, size))
            expected = _expected_track(run, chrom, size)
            assert np.array_equal(np.isnan(got), np.isnan(expected)), chrom
            covered = ~np.isnan(expected)
            np.testing.assert_allclose(got[covered], expected[covered], rtol=1e-6, atol=1e-7)
    finally:
        bw.close()


# --------------------------------------------------------------------------- publishing
def _tiny_store(path: Path, tasks: list[int]) -> None:
    """A complete score file of three 5 bp windows on contig 'c'."""
    rng = np.random.default_rng(0)
    import pandas as pd

    windows = pd.DataFrame({"chrom": ["c"] * 3, "start": [0, 10, 20], "end": [5, 15, 25], "name": ["a", "b", "c"],
                            "strand": ["+"] * 3, "row": [0, 1, 2], "line": [1, 2, 3], "unknown": [0, 2, 0]})
    dropped = pd.DataFrame({"row": [3], "line": [4], "chrom": ["c"], "start": [98], "end": [103], "name": ["d"],
                            "unknown": [-1], "reason": ["window runs past the end of c (length 100)"]})
    t = len(tasks)
    with ScoreStore.create(str(path), {"seed": 0}, tasks, 5, {"c": 100}, {}, (0, 4), 4) as store:
        store.append(np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (3, 5))], rng.normal(size=(t, 3, 5, 4)),
                     rng.normal(size=(t, 3, 5, 4)), np.zeros((t, 3)), np.ones((t, 3)), windows, dropped, rows=(0, 4))
        store.mark_complete()


def test_nothing_is_published_when_writing_an_output_fails(tmp_path, monkeypatch):
    import seqlift.scoring.outputs as outputs

    partial = tmp_path / "run.h5.partial"
    _tiny_store(partial, [0, 2])

    def broken(path: str, store: ScoreStore) -> None:
        Path(path).write_text("half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(outputs, "_write_regions_bed", broken)
    with pytest.raises(OSError):
        write_outputs(str(partial), str(tmp_path / "run"), bigwig=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5.partial"]  # kept for --resume, nothing else


def test_publishing_replaces_an_earlier_runs_files_and_drops_its_extra_ones(tmp_path):
    for stale in ("run.task0.hyp.npz", "run.task5.bw", "run.bw", "run.hyp.npz", "run.regions.bed"):
        (tmp_path / stale).write_text("from an earlier run")
    (tmp_path / "run.notes.txt").write_text("the user's own file")
    _tiny_store(tmp_path / "run.h5.partial", [0, 2])
    paths = write_outputs(str(tmp_path / "run.h5.partial"), str(tmp_path / "run"), bigwig=False)
    assert paths == list(output_names(str(tmp_path / "run"), [0, 2], False).values())
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "run.dropped.tsv", "run.h5", "run.notes.txt", "run.ohe.npz", "run.regions.bed", "run.task0.hyp.npz",
        "run.task2.hyp.npz"]
    assert np.load(tmp_path / "run.task2.hyp.npz")["arr_0"].shape == (3, 4, 5)
    dropped = (tmp_path / "run.dropped.tsv").read_text().splitlines()
    assert dropped == ["row\tline\tchrom\tstart\tend\tname\tunknown\treason",
                       "3\t4\tc\t98\t103\td\tNA\twindow runs past the end of c (length 100)"]
    bed = (tmp_path / "run.regions.bed").read_text().splitlines()
    assert [line.split("\t")[10] for line in bed] == ["0", "2", "0"]

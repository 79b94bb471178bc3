"""Nothing lost, nothing silently wrong: faults and hostile input (issue 14).

Each test reproduces one case of the issue: a full disk while scoring, two
runs on one prefix, a FASTA replaced behind its index, a model that outputs
NaN, a merge onto a shard, truncated files, out-of-range integers, a model of
any input length, Keras 2 JSON with ``--weights``, IUPAC letters, checks made
before TensorFlow starts, ``logo``/``simulate``/``--out`` mistakes, quiet
runs and progress lines off a terminal.

Most run the command line in-process (``seqlift.cli.main``: one line on
stderr, the exit status, the files); those that need a process of their own
(two runs at once, a size limit, a crash-prone failure, start-up noise) run
``seqlift`` as a subprocess. Bit-for-bit comparisons are against one
uninterrupted run made here.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_logo import write_score_file
from test_score_cli import (
    LENGTH,
    assert_same_arrays,
    clean_env,
    read_arrays,
    seqlift,
    seqlift_command,
    user_lines,
    write_inputs,
)

from seqlift import cli
from seqlift.errors import SeqliftError

#: every comparable run: small passes and chunks, so that runs have several chunks
RUN = ("--shuffles", "4", "--batch-size", "4", "--chunk-size", "8")


# --------------------------------------------------------------------------- helpers
def run_cli(capsys, *args: object) -> tuple[int, list[str]]:
    """``seqlift ARGS`` in this process: (exit status, non-blank stderr lines)."""
    try:
        status = cli.main([str(a) for a in args])
    except SystemExit as stop:  # argparse
        status = stop.code
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return status, lines


def assert_one_error_line(status: int, lines: list[str], command: str, *phrases: str) -> None:
    """A non-zero status and exactly one error line, ``seqlift COMMAND: error: ...``, holding ``phrases``."""
    assert status != 0, lines
    errors = [line for line in lines if "error" in line.lower()]
    assert len(errors) == 1 and errors[0] == lines[-1], lines
    assert errors[0].startswith(f"seqlift {command}: error: "), errors[0]
    assert all(not line.startswith("Traceback") for line in lines), lines
    for phrase in phrases:
        assert phrase in errors[0], (phrase, errors[0])


def score_args(inputs: dict[str, Path], prefix: Path, *extra: object) -> list[object]:
    return ["score", inputs["peaks"], "--model", inputs["model"], "--genome", inputs["genome"], *RUN,
            "--out", prefix, *extra]


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    return write_inputs(tmp_path_factory.mktemp("integrity_inputs"))


@pytest.fixture(scope="module")
def whole(inputs, tmp_path_factory) -> dict[str, np.ndarray]:
    """The arrays of one uninterrupted run (in this process)."""
    from seqlift.scoring.options import ScoreOptions
    from seqlift.scoring.run import score

    folder = tmp_path_factory.mktemp("integrity_whole")
    score(ScoreOptions(regions=str(inputs["peaks"]), model=str(inputs["model"]), genome=str(inputs["genome"]),
                       shuffles=4, batch_size=4, chunk_size=8, out=str(folder / "run")))
    return read_arrays(folder / "run.h5")


# =========================================================================== data loss and silent corruption
def _tmpfs(folder: Path, size: str) -> None:
    """Mount a tmpfs of ``size`` on ``folder``, or skip saying why it cannot be done here."""
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a size-limited file system needs root (mount -t tmpfs); "
                    "test_a_file_size_limit_stops_cleanly_and_resumes covers the logic without one")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); "
                    "test_a_file_size_limit_stops_cleanly_and_resumes covers the logic without one")


def assert_only_own_lines(stderr: str) -> None:
    """Every line on stderr is seqlift's own: no TensorFlow or CUDA start-up noise, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert all(line.startswith("seqlift") for line in lines), lines


def test_a_full_disk_while_scoring_stops_with_one_line_and_resumes_bit_for_bit(inputs, whole, tmp_path, capsys):
    """Before: a segfault (exit 139) with tracebacks about errno 28, and a partial that resumed wrongly.
    (The failing run is a process of its own, the resumed one runs here.)"""
    disk = tmp_path / "small-disk"
    _tmpfs(disk, "4m")
    try:
        full = seqlift(*score_args(inputs, disk / "run"), cwd=tmp_path)
        lines = user_lines(full.stderr)
        assert full.returncode == 1, full.stderr
        assert_only_own_lines(full.stderr)
        assert lines[-1].startswith("seqlift score: error: no space left on device")
        assert "finished chunks are kept in" in lines[-1] and "--resume" in lines[-1]
        assert files_in(disk) == ["run.h5.partial"]

        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)  # space is freed
        status, lines = run_cli(capsys, *score_args(inputs, disk / "run"), "--resume")
        assert status == 0, lines
        assert any("chunks done" in line for line in lines), lines
        assert_same_arrays(read_arrays(disk / "run.h5"), whole)
    finally:
        subprocess.run(["umount", str(disk)], check=False)


def _limited(limit_bytes: int):
    """A ``preexec_fn`` setting the child's file size limit (``ulimit -f``): writes past it fail with EFBIG."""
    import resource

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    return apply


@pytest.mark.parametrize(("inside_hdf5", "limit"), [(False, 4_000_000), (True, 1_000_000)],
                         ids=["space-reserved-first", "write-fails-inside-hdf5"])
def test_a_file_size_limit_stops_cleanly_and_resumes(inputs, whole, tmp_path, capsys, inside_hdf5, limit):
    """No mount needed: a file size limit fails writes as a full disk does. With the reservation skipped
    (a file system that cannot reserve space) the write fails inside HDF5, which cannot close the file;
    the run still ends with one line and status 1 (before: a segfault), and resuming reads every
    recorded chunk back before trusting it."""
    env = clean_env(**({"SEQLIFT_TEST_NO_RESERVE": "1"} if inside_hdf5 else {}))
    command = seqlift_command() + [str(a) for a in score_args(inputs, tmp_path / "run")]
    full = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=_limited(limit))
    lines = user_lines(full.stderr)
    assert full.returncode == 1, full.stderr
    assert_only_own_lines(full.stderr)  # no "Exception ignored" from HDF5 handles, no segfault
    assert lines[-1].startswith("seqlift score: error: ") and "file too large" in lines[-1], lines
    kept = r"after [1-9]\d* finished chunks" if inside_hdf5 else r"the [1-9]\d* finished chunks are kept"
    assert re.search(kept, lines[-1]), lines[-1]
    assert "--resume" in lines[-1]
    assert files_in(tmp_path) == ["run.h5.partial"]

    status, lines = run_cli(capsys, *score_args(inputs, tmp_path / "run"), "--resume")
    assert status == 0, lines
    assert_same_arrays(read_arrays(tmp_path / "run.h5"), whole)


def test_a_chunk_recorded_as_done_whose_data_never_reached_the_disk_is_scored_again(inputs, whole, tmp_path, capsys,
                                                                                     monkeypatch):
    """Before: --resume trusted the record and exited 0 with wrong one-hot rows and contributions."""
    args = score_args(inputs, tmp_path / "run")
    monkeypatch.setenv("SEQLIFT_TEST_SIGNAL_AFTER_CHUNK", "3:TERM")
    status, _ = run_cli(capsys, *args)
    assert status == 130
    monkeypatch.delenv("SEQLIFT_TEST_SIGNAL_AFTER_CHUNK")
    with h5py.File(tmp_path / "run.h5.partial", "r+") as partial:  # chunk 3's rows never made it to the disk
        first, last = int(partial["progress"][1, 2]), int(partial["progress"][2, 2])
        partial["onehot"][first:last] = 0
        partial["contributions"][:, first:last] = 0
    status, lines = run_cli(capsys, *args, "--resume")
    assert status == 0, lines
    assert any("chunk 3 does not hold what was written" in line for line in lines), lines
    assert any("2 chunks done" in line for line in lines), lines
    assert_same_arrays(read_arrays(tmp_path / "run.h5"), whole)


def _wait_until_stopped(process: subprocess.Popen, timeout: float = 120) -> None:
    """Wait until ``process`` has stopped itself (SIGSTOP), or has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with open(f"/proc/{process.pid}/stat") as handle:
            if handle.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.1)
    raise AssertionError("the first run did not stop after its first chunk")


def test_a_second_run_with_the_same_out_leaves_the_first_untouched(inputs, whole, tmp_path, capsys):
    """Before: the second run truncated the first run's partial file ("open in another process"),
    and the first run then died with a traceback, losing every finished chunk."""
    args = [str(a) for a in score_args(inputs, tmp_path / "run")]
    first = subprocess.Popen(seqlift_command() + args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=clean_env(SEQLIFT_TEST_SIGNAL_AFTER_CHUNK="1:STOP"))
    try:
        _wait_until_stopped(first)
        partial = tmp_path / "run.h5.partial"
        before = partial.read_bytes()
        status, lines = run_cli(capsys, *args)
        assert status == 1 and len(lines) == 1, lines
        assert lines[0].startswith("seqlift score: error: another run is writing the outputs")
        assert f"process {first.pid}" in lines[0] and "left alone" in lines[0]
        assert partial.read_bytes() == before
    finally:
        first.send_signal(signal.SIGCONT)
        _, errors = first.communicate(timeout=300)
    assert first.returncode == 0, errors
    assert_same_arrays(read_arrays(tmp_path / "run.h5"), whole)
    assert "run.lock" not in files_in(tmp_path)


def test_a_fasta_replaced_after_indexing_by_an_older_file_with_another_line_width(tmp_path):
    """``cp -p``, ``mv``, ``tar`` and ``rsync -a`` keep an older modification time. Before: the stale .fai
    was reused and the bases came out shifted (exit 0)."""
    from seqlift.genome.fasta import Genome, index_mismatch

    rng = np.random.default_rng(5)
    old = {"chr1": "".join(rng.choice(list("ACGT"), 500)), "chr2": "".join(rng.choice(list("ACGT"), 300))}
    new = {name: "".join(rng.choice(list("ACGT"), len(seq))) for name, seq in old.items()}
    fasta = tmp_path / "genome.fa"

    def write(records: dict[str, str], width: int) -> None:
        fasta.write_text("".join(f">{name}\n" + "\n".join(seq[i:i + width] for i in range(0, len(seq), width)) + "\n"
                                 for name, seq in records.items()))

    write(old, 60)
    with Genome(fasta) as genome:
        assert genome.fetch("chr1", 100, 200) == old["chr1"][100:200]
    index = Path(str(fasta) + ".fai")
    long_ago = index.stat().st_mtime - 86400
    write(new, 80)  # the same record names and lengths, another line width
    os.utime(fasta, (long_ago, long_ago))
    assert index_mismatch(str(fasta), str(index)) == "record 'chr1': its lines are not 60 bases long"
    with Genome(fasta) as genome:
        for chrom, sequence in new.items():
            assert genome.fetch(chrom, 0, len(sequence)) == sequence
    assert index_mismatch(str(fasta), str(index)) is None  # rebuilt beside the FASTA


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (">chr1\nACGTACGTAC\nACGTAC\n>chr2 other\nGGGG\n", None),
        (">chr1\nACGTACGTAC\nACGTAC\n>chrX other\nGGGG\n", "the header before byte"),  # a renamed record
        (">chr1\nACGTACGTAC\nACGTACG\n>chr2 other\nGGGG\n", "does not end after 16 bases"),  # a longer record
        (">chr1\nACGTACGTAC\nACGTAC\n>chr2 other\nGGGG\n>chr3\nTT\n", "records the index does not list"),
        (">chr1\r\nACGTACGTAC\r\nACGTAC\r\n>chr2 other\r\nGGGG\r\n", "no line end where its sequence should start"),
    ],
    ids=["same-layout", "renamed", "longer", "more-records", "crlf"],
)
def test_an_index_is_checked_against_the_file_it_describes(tmp_path, text, problem):
    from seqlift.genome.fasta import index_mismatch

    fasta, index = tmp_path / "g.fa", tmp_path / "g.fa.fai"
    index.write_text("chr1\t16\t6\t10\t11\nchr2\t4\t36\t4\t5\n")  # samtools faidx of the first text
    fasta.write_bytes(text.encode())
    found = index_mismatch(str(fasta), str(index))
    assert (found is None) if problem is None else (problem in found), found


def _nan_model(folder: Path) -> Path:
    """A model whose output is infinite on sequences holding TTTTTTTTTT, and 1 on sequences without T."""
    import keras
    from keras import layers

    inputs = keras.Input((LENGTH, 4))
    run = layers.Conv1D(1, 10, activation="relu", name="t10")(inputs)  # 1 exactly where ten T's in a row
    top = layers.GlobalMaxPooling1D()(run)
    grown = layers.Dense(1, activation="exponential", name="grown")(top)  # exp(100) overflows float32
    outputs = layers.Dense(1, name="out")(grown)
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((10, 4, 1), np.float32)
    kernel[:, 3, 0] = 1.0
    model.get_layer("t10").set_weights([kernel, np.array([-9.0], np.float32)])
    model.get_layer("grown").set_weights([np.array([[100.0]], np.float32), np.zeros(1, np.float32)])
    model.get_layer("out").set_weights([np.array([[1.0]], np.float32), np.zeros(1, np.float32)])
    path = folder / "nan.keras"
    model.save(path)
    return path


def test_a_model_that_outputs_infinity_stops_the_run_naming_the_regions(tmp_path, capsys):
    """Before: exit 0 and a score file full of NaN."""
    rng = np.random.default_rng(2)
    sequences = ["".join(rng.choice(list("ACG"), LENGTH)) for _ in range(12)]
    for row in (5, 9):
        sequences[row] = sequences[row][:100] + "T" * 10 + sequences[row][110:]
    fasta = tmp_path / "seqs.fa"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(sequences)))
    args = ["score", fasta, "--model", _nan_model(tmp_path), "--shuffles", "3", "--batch-size", "2",
            "--chunk-size", "4", "--out", tmp_path / "out" / "run"]

    status, lines = run_cli(capsys, *args)
    assert_one_error_line(status, lines, "score", "record 6 (s5)", "give non-finite scores (NaN or infinity)",
                          "the 1 finished chunks are kept", "--nonfinite drop --resume")
    assert files_in(tmp_path / "out") == ["run.h5.partial"]

    status, lines = run_cli(capsys, *args, "--nonfinite", "drop", "--resume")
    assert status == 0, lines
    dropped = (tmp_path / "out" / "run.dropped.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in dropped[1:]] == ["5", "9"]
    assert all("non-finite scores" in line for line in dropped[1:])
    arrays = read_arrays(tmp_path / "out" / "run.h5")
    assert list(arrays["windows/row"]) == [0, 1, 2, 3, 4, 6, 7, 8, 10, 11]
    for name in ("contributions", "hypothetical", "deltas", "target_deltas"):
        assert np.isfinite(arrays[name]).all(), name
    assert np.isfinite(np.load(tmp_path / "out" / "run.hyp.npz")["arr_0"]).all()


def _fake_shards(folder: Path) -> list[Path]:
    """Two complete shard files of one run (merge reads only the HDF5 files)."""
    from seqlift.scoring.store import ScoreStore

    paths = []
    for index in (1, 2):
        parameters = {"seed": 0, "shard": f"{index}/2", "rows": [10 * index - 10, 10 * index], "bigwig": False}
        path = folder / f"shard{index}.h5"
        with ScoreStore.create(str(path), parameters, [0], 10, {"c": 100}, {}, (10 * index - 10, 10 * index), 20) as s:
            s.mark_complete()
        paths.append(path)
    return paths


def test_merge_refuses_an_out_equal_to_a_shards_prefix(tmp_path, capsys):
    """Before: the merge silently overwrote that shard."""
    shards = _fake_shards(tmp_path)
    before = shards[0].read_bytes()
    status, lines = run_cli(capsys, "merge", tmp_path / "shard1", tmp_path / "shard2", "--out", tmp_path / "shard1")
    assert_one_error_line(status, lines, "merge", "is the prefix of the shard", "choose another --out")
    assert shards[0].read_bytes() == before and files_in(tmp_path) == ["shard1.h5", "shard2.h5"]


def test_a_truncated_shard_or_partial_file_is_called_truncated(tmp_path, capsys):
    """Before: "it is open in another process" (a substring test matched HDF5's "sblock")."""
    from seqlift.scoring.store import ScoreStore

    shards = _fake_shards(tmp_path)
    data = shards[1].read_bytes()
    shards[1].write_bytes(data[: len(data) // 2])
    status, lines = run_cli(capsys, "merge", tmp_path / "shard1", tmp_path / "shard2", "--out", tmp_path / "merged")
    assert_one_error_line(status, lines, "merge", "shard2.h5", "is truncated", f"{len(data) // 2} of its")
    assert "another process" not in lines[-1]
    with pytest.raises(SeqliftError, match="truncated") as caught:
        ScoreStore.open(str(shards[1]))
    assert "another process" not in str(caught.value)


# =========================================================================== clear errors instead of tracebacks
@pytest.mark.parametrize(
    ("case", "extra", "phrases"),
    [
        ("BED end", (), ("huge.bed:2: end (column 3) '99999999999999999999999' is beyond the largest coordinate",)),
        ("--seed", ("--seed", "99999999999999999999999"), ("argument --seed", "out of range")),
        ("--shuffles", ("--shuffles", "99999999999999999999999"), ("argument --shuffles", "out of range")),
        ("--batch-size", ("--batch-size", "99999999999999999999999"), ("argument --batch-size", "out of range")),
        ("--chunk-size", ("--chunk-size", "-3"), ("argument --chunk-size", "out of range")),
        ("--width", ("--width", "99999999999999999999999"), ("argument --width", "out of range")),
        ("--shard", ("--shard", "1/99999999999999999999999"), ("--shard", "beyond the 64-bit integer range")),
        ("--shuffles in range, but no memory holds it", ("--shuffles", "1000000000000000"),
         ("for one pass's references alone", "lower --shuffles or --batch-size")),
        ("--max-unknown", ("--max-unknown", "1.5"), ("argument --max-unknown", "not a fraction from 0 to 1")),
    ],
)
def test_integers_out_of_range_are_one_line_naming_the_option_or_line(inputs, tmp_path, capsys, case, extra, phrases):
    """Before: OverflowError, TypeError (HDF5 had no type for the seed) and ValueError tracebacks, and a
    partial file left by the seed."""
    regions = inputs["peaks"]
    if case == "BED end":
        regions = tmp_path / "huge.bed"
        regions.write_text("chr1\t100\t600\nchr1\t100\t99999999999999999999999\n")
    args = ["score", regions, "--model", inputs["model"], "--genome", inputs["genome"], "--shuffles", "2",
            "--out", tmp_path / "out" / "run"]
    status, lines = run_cli(capsys, *args, *extra)
    assert_one_error_line(status, lines, "score", *phrases)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("command", "phrases"),
    [
        (["simulate", "sim", "--seed", "-1"], ("argument --seed", "from 0 to 2^63 - 1")),
        (["simulate", "sim", "--n-per-class", "0"], ("argument --n-per-class", "from 1 to")),
        (["simulate", "sim", "--n-per-class", "100000000000000"], ("not enough memory",)),
        (["train-sim", "sim", "--epochs", "0"], ("argument --epochs",)),
        (["report", "--model", "m.h5", "--fasta", "x.fa", "--out", "r", "--shuffles", "99999999999999999999"],
         ("argument --shuffles",)),
        (["logo", "scores.h5", "--row", "99999999999999999999999", "--out", "x.png"], ("argument --row",)),
        (["logo", "scores.h5", "--row", "0", "--dpi", "100000000000000000", "--out", "x.png"], ("argument --dpi",)),
    ],
    ids=["simulate-seed", "n-per-class-0", "n-per-class-huge", "epochs", "report-shuffles", "logo-row", "logo-dpi"],
)
def test_every_integer_option_is_checked(tmp_path, capsys, monkeypatch, command, phrases):
    """Before: ValueError and MemoryError tracebacks; ``simulate --n-per-class 0`` wrote empty files (exit 0)."""
    monkeypatch.chdir(tmp_path)
    status, lines = run_cli(capsys, *command)
    assert_one_error_line(status, lines, command[0], *phrases)
    assert files_in(tmp_path) == []


def test_a_model_of_any_input_length_scores_with_width(inputs, tmp_path, capsys):
    """Before: --width was refused by a message that said the model expects (N, None, 4)."""
    import keras
    from keras import layers

    from seqlift.engine import attribute
    from seqlift.model import load_model

    def build(length: int | None) -> keras.Model:
        keras.utils.set_random_seed(4)
        x = keras.Input((length, 4))
        h = layers.Conv1D(3, 9, activation="relu")(x)
        h = layers.GlobalMaxPooling1D()(h)
        return keras.Model(x, layers.Dense(1)(h))

    any_length, fixed = build(None), build(LENGTH)
    fixed.set_weights(any_length.get_weights())
    any_length.save(tmp_path / "any.keras")
    fixed.save(tmp_path / "fixed.keras")
    base = ["score", inputs["peaks"], "--model", tmp_path / "any.keras", "--genome", inputs["genome"], *RUN]
    status, lines = run_cli(capsys, *base, "--out", tmp_path / "none")
    assert_one_error_line(status, lines, "score", "accepts sequences of any length", "--width")

    status, lines = run_cli(capsys, *base, "--width", LENGTH, "--out", tmp_path / "run")
    assert status == 0, lines
    got = read_arrays(tmp_path / "run.h5")
    expected = attribute(load_model(tmp_path / "fixed.keras"), got["onehot"].astype(np.float32), references=4, seed=0)
    np.testing.assert_allclose(got["contributions"], expected.contributions.reshape(got["contributions"].shape),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(got["windows/end"] - got["windows/start"], LENGTH)


def test_keras2_json_and_weights_are_given_with_weights(inputs, tmp_path, capsys):
    """Before: ``--weights`` was not an option of seqlift score, and the message said "weights="."""
    import keras
    from keras import layers
    from model_zoo import randomize, write_keras2_files

    model = randomize(keras.Sequential([keras.Input((LENGTH, 4)), layers.Conv1D(2, 5, activation="relu"),
                                        layers.MaxPooling1D(4), layers.Flatten(), layers.Dense(1)]), seed=3)
    config, weights = write_keras2_files(model, tmp_path, flavour="keras2.2")
    base = ["score", inputs["peaks"], "--genome", inputs["genome"], *RUN]
    status, lines = run_cli(capsys, *base, "--model", config, "--out", tmp_path / "missing")
    assert_one_error_line(status, lines, "score", "is a Keras model config (JSON) without weights",
                          "give its weights file with --weights")
    status, lines = run_cli(capsys, *base, "--model", weights, "--out", tmp_path / "swapped")
    assert_one_error_line(status, lines, "score", "holds only weights", "--weights")
    status, lines = run_cli(capsys, "report", "--model", config, "--fasta", tmp_path / "any.fa", "--out", tmp_path / "r")
    assert_one_error_line(status, lines, "report", "give its weights file with --weights")

    status, lines = run_cli(capsys, *base, "--model", config, "--weights", weights, "--out", tmp_path / "run")
    assert status == 0, lines
    assert read_arrays(tmp_path / "run.h5")["contributions"].shape == (1, 38, LENGTH, 4)


def test_unknown_bases_are_counted_logged_and_may_drop_a_region(tmp_path, capsys):
    """Before: IUPAC codes became all-zero rows as N does, and nothing said so."""
    import keras
    from keras import layers

    rng = np.random.default_rng(8)
    chrom = list("".join(rng.choice(list("ACGT"), 3000)))
    chrom[1000:1004] = "RYKM"  # IUPAC codes in region 1's window
    chrom[2000:2100] = "N" * 100  # a quarter of region 2's window
    (tmp_path / "g.fa").write_text(">c\n" + "\n".join("".join(chrom[i:i + 70]) for i in range(0, 3000, 70)) + "\n")
    (tmp_path / "r.bed").write_text("c\t300\t700\tclean\nc\t800\t1200\tiupac\nc\t1800\t2200\tgap\n")
    keras.utils.set_random_seed(1)
    keras.Sequential([keras.Input((LENGTH, 4)), layers.Flatten(), layers.Dense(1)]).save(tmp_path / "m.keras")
    base = ["score", tmp_path / "r.bed", "--model", tmp_path / "m.keras", "--genome", tmp_path / "g.fa",
            "--shuffles", "2"]

    status, lines = run_cli(capsys, *base, "--out", tmp_path / "all")
    assert status == 0, lines
    assert any("2 of 3 scored regions have unknown bases" in line and "r.bed:2 (c:800-1200) with 4 of 400" in line
               for line in lines), lines
    bed = [line.split("\t") for line in (tmp_path / "all.regions.bed").read_text().splitlines()]
    assert [fields[10] for fields in bed] == ["0", "4", "100"] and all(len(fields) == 11 for fields in bed)

    status, lines = run_cli(capsys, *base, "--max-unknown", "0.2", "--out", tmp_path / "some")
    assert status == 0, lines
    dropped = (tmp_path / "some.dropped.tsv").read_text().splitlines()
    assert dropped == ["row\tline\tchrom\tstart\tend\tname\tunknown\treason",
                       "2\t3\tc\t1800\t2200\tgap\t100\t100 of 400 bases unknown (not A, C, G or T), more than "
                       "--max-unknown 0.2"]
    assert [line.split("\t")[3] for line in (tmp_path / "some.regions.bed").read_text().splitlines()] == [
        "clean", "iupac"]


def test_region_checks_come_before_tensorflow_starts(inputs, tmp_path):
    """``--off-chrom error`` (and every other check of the regions) is answered without loading the model.
    Before: after TensorFlow's start-up and the model, or even hours into the run when the region came."""
    code = ("import sys; from seqlift import cli; status = cli.main(sys.argv[1:]); "
            "print('tensorflow imported' if 'tensorflow' in sys.modules else 'tensorflow not imported'); "
            "sys.exit(status)")
    args = [str(a) for a in ("score", inputs["peaks"], "--model", inputs["model"], "--genome", inputs["genome"],
                             "--off-chrom", "error", "--out", tmp_path / "out" / "run")]
    done = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, env=clean_env(), capture_output=True,
                          text=True, timeout=300)
    lines = user_lines(done.stderr)
    assert done.returncode == 1 and len(lines) == 1, done.stderr
    assert lines[0].startswith("seqlift score: error: ") and "peaks.narrowPeak:9: window chr2:-180-220" in lines[0]
    assert done.stdout.strip() == "tensorflow not imported"
    assert not (tmp_path / "out").exists()


def test_logo_to_a_jpeg_writes_a_jpeg(tmp_path, capsys):
    """Before: ``--out x.jpg`` made a directory named x.jpg."""
    path, _ = write_score_file(tmp_path)
    status, lines = run_cli(capsys, "logo", path, "--row", "1", "--out", tmp_path / "x.jpg")
    assert status == 0, lines
    assert (tmp_path / "x.jpg").is_file() and (tmp_path / "x.jpg").read_bytes()[:3] == b"\xff\xd8\xff"
    status, lines = run_cli(capsys, "logo", path, "--row", "1", "--out", tmp_path / "x.bmp")
    assert_one_error_line(status, lines, "logo", ".bmp pictures cannot be written")
    assert not (tmp_path / "x.bmp").exists()


@pytest.mark.parametrize("command", ["score", "merge"])
def test_an_existing_directory_as_out_is_refused(inputs, tmp_path, capsys, command):
    """Before: the files were written beside the directory (results.h5 next to results/)."""
    (tmp_path / "results").mkdir()
    if command == "score":
        args = ["score", inputs["peaks"], "--model", inputs["model"], "--genome", inputs["genome"]]
    else:
        _fake_shards(tmp_path)
        args = ["merge", tmp_path / "shard1", tmp_path / "shard2"]
    status, lines = run_cli(capsys, *args, "--out", tmp_path / "results")
    assert_one_error_line(status, lines, command, "names a directory", f"such as {tmp_path / 'results' / 'scores'}")
    assert files_in(tmp_path / "results") == [] and not (tmp_path / "results.h5").exists()


@pytest.mark.parametrize(
    ("command", "phrase"),
    [
        (["simulate", "taken", "--n-per-class", "2", "--no-genome"], "OUTDIR taken is a file, not a folder"),
        (["report", "--model", "m.keras", "--fasta", "s.fa", "--out", "taken"], "--out taken is a file, not a folder"),
        (["logo", "scores.h5", "--row", "0", "--out", "taken"], "--out taken is a file, not a folder"),
        (["logo", "scores.h5", "--row", "0", "--out", "taken/logo.png"], "cannot write taken/logo.png"),
    ],
    ids=["simulate", "report", "logo-folder", "logo-file"],
)
def test_a_file_where_an_output_folder_must_go_is_one_line(tmp_path, capsys, monkeypatch, command, phrase):
    """Before: FileExistsError tracebacks."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").write_text("a file\n")
    write_score_file(tmp_path)
    (tmp_path / "m.keras").write_bytes(b"PK")
    status, lines = run_cli(capsys, *command)
    assert_one_error_line(status, lines, command[0], phrase)
    assert (tmp_path / "taken").read_text() == "a file\n"


def test_an_output_that_would_overwrite_an_input_is_refused(inputs, tmp_path, capsys):
    regions = tmp_path / "peaks.regions.bed"
    shutil.copy(inputs["peaks"], regions)
    status, lines = run_cli(capsys, "score", regions, "--model", inputs["model"], "--genome", inputs["genome"],
                            "--out", tmp_path / "peaks")
    assert_one_error_line(status, lines, "score", "would overwrite the regions file")
    assert regions.read_bytes() == inputs["peaks"].read_bytes()


# =========================================================================== quiet, informative runs
def test_runs_are_quiet_by_default_and_verbose_with_v(inputs, tmp_path):
    """Before: every run printed TensorFlow's and CUDA's start-up lines (oneDNN, "failed call to cuInit"),
    whatever TF_CPP_MIN_LOG_LEVEL said. The run loads the model (TensorFlow starts) and then stops on a
    task the model does not have; the subprocess runs of the other tests check their quietness too."""
    env = {k: v for k, v in clean_env().items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    args = [str(a) for a in ("score", inputs["peaks"], "--model", inputs["model"], "--genome", inputs["genome"],
                             "--task", "0,5", "--out", tmp_path / "run")]
    quiet = subprocess.run(seqlift_command() + args, cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
    assert quiet.returncode == 1 and "task 5 is out of range" in quiet.stderr, quiet.stderr
    assert_only_own_lines(quiet.stderr)
    assert len(quiet.stderr.splitlines()) == 1
    loud = subprocess.run(seqlift_command() + ["-v"] + args, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert loud.returncode == 1 and quiet.stderr.splitlines()[0] in loud.stderr.splitlines(), loud.stderr
    assert len(loud.stderr.splitlines()) > 1  # TensorFlow's own start-up lines, where it prints any


def test_other_libraries_warnings_only_with_v(capsys, monkeypatch):
    """matplotlib's "building the font cache" line (logged as a warning when the build takes long) and
    other libraries' warnings appear only with -v; seqlift's own lines always do."""
    import logging

    from seqlift import console

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    for verbose in (False, True):
        console.configure(verbose)
        logging.getLogger("matplotlib.font_manager").warning("Matplotlib is building the font cache; this may take a moment.")
        logging.getLogger("seqlift.scoring.run").info("scoring input rows 1-40 of 40")
        lines = capsys.readouterr().err.splitlines()
        assert "seqlift: scoring input rows 1-40 of 40" in lines
        assert ("matplotlib.font_manager: Matplotlib is building the font cache; this may take a moment." in lines) \
            is verbose


def test_progress_lines_off_a_terminal_including_the_first_pass(inputs, tmp_path, capsys, monkeypatch):
    """Before: no progress at all when stderr is not a terminal (a SLURM log)."""
    monkeypatch.setenv("SEQLIFT_PROGRESS_SECONDS", "0")
    many = tmp_path / "many.bed"
    lines = inputs["peaks"].read_text().splitlines()[2:]
    many.write_text("\n".join(lines * 500) + "\n")  # 20,000 regions: the first pass reports as it goes
    status, err = run_cli(capsys, "score", many, "--model", inputs["model"], "--genome", inputs["genome"], *RUN,
                          "--shard", "1/1000", "--out", tmp_path / "run")
    assert status == 0, err
    checking = [line for line in err if line.startswith(f"seqlift: checking {many}: ")]
    assert checking and "%" in checking[0] and "lines" in checking[0] and "left" in checking[0], err
    scoring = [line for line in err if line.startswith("seqlift: scoring: ")]
    assert scoring and "of 20 regions" in scoring[0] and "regions/s" in scoring[0] and "left" in scoring[0], err


def test_progress_line_wording():
    from seqlift.progress import Progress, duration_text

    progress = Progress("scoring", 300_000, "regions")
    progress.started -= 100.0
    progress.update(12_288)
    assert progress.line() == ("scoring: 12,288 of 300,000 regions (4.1 %), 122.9 regions/s, "
                               f"about {duration_text((300_000 - 12_288) / 122.88)} left")
    assert duration_text(8160) == "2 h 16 min" and duration_text(42) == "42 s" and duration_text(200000) == "2 d 7 h"

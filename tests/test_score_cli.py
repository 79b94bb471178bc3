"""``seqlift score`` and ``seqlift merge`` run as a user runs them: as subprocesses.

A tiny two-output Keras model (400 bp input) scores 40 narrowPeak regions on
a random two-chromosome genome; two regions run off the start of chr2 and are
dropped. The helpers at the top (inputs, running the command, reading the
HDF5 arrays) are shared with ``test_score_outputs.py``.
"""
from __future__ import annotations

import fcntl
import os
import pty
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
from pathlib import Path

import h5py
import numpy as np
import pytest

LENGTH = 400
CHROMS = {"chr1": 6000, "chr2": 3000}
N_REGIONS = 40
#: input rows (0-based) whose 400 bp window runs off the start of chr2
DROPPED_ROWS = (6, 27)
ARRAYS = ("onehot", "contributions", "hypothetical", "deltas", "target_deltas")
WINDOW_COLUMNS = ("chrom", "start", "end", "name", "strand", "row", "line")
#: options every comparable run shares
SMALL = ("--batch-size", "3", "--shuffles", "6")


# --------------------------------------------------------------------------- helpers (shared)
def write_inputs(folder: Path) -> dict[str, Path]:
    """Genome FASTA, narrowPeak file and model files in ``folder``; returns their paths by role."""
    import keras
    from keras import layers

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    with open(folder / "genome.fa", "w") as handle:
        for chrom, size in CHROMS.items():
            bases = "".join(rng.choice(list("ACGT"), size))
            bases = bases[:1000] + bases[1000:1100].lower() + "N" * 20 + bases[1120:]
            handle.write(f">{chrom}\n" + "\n".join(bases[i:i + 60] for i in range(0, size, 60)) + "\n")
    lines = ["track name=peaks", "# test peaks"]
    for row in range(N_REGIONS):
        chrom = "chr2" if row % 3 == 0 else "chr1"
        start = 20 if row in DROPPED_ROWS else int(rng.integers(250, CHROMS[chrom] - 600))
        end = start + int(rng.integers(100, 300))
        summit = 0 if row in DROPPED_ROWS else int(rng.integers(0, end - start))
        strand = "+-."[row % 3]
        lines.append(f"{chrom}\t{start}\t{end}\tpeak{row}\t0\t{strand}\t5.0\t-1\t-1\t{summit}")
    (folder / "peaks.narrowPeak").write_text("\n".join(lines) + "\n")

    keras.utils.set_random_seed(3)
    inputs = keras.Input((LENGTH, 4))
    hidden = layers.Conv1D(4, 9, activation="relu")(inputs)
    hidden = layers.MaxPooling1D(8)(hidden)
    hidden = layers.Flatten()(hidden)
    outputs = layers.Dense(2, activation="sigmoid", name="dense")(hidden)
    model = keras.Model(inputs, outputs)
    for variable in model.weights:
        variable.assign(rng.normal(0.0, 0.5, tuple(variable.shape)).astype(np.float32))
    model.save(folder / "model.keras")
    return {"genome": folder / "genome.fa", "peaks": folder / "peaks.narrowPeak", "model": folder / "model.keras"}


def seqlift_command() -> list[str]:
    """The installed ``seqlift`` console script (``python -m seqlift.cli`` without one)."""
    script = Path(sys.executable).with_name("seqlift")
    return [str(script)] if script.exists() else [sys.executable, "-m", "seqlift.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no genome variable, no test hook, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEQLIFT_")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env.update(extra)
    return env


def seqlift(*args: object, cwd: Path, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run ``seqlift ARGS`` in ``cwd``; text output captured."""
    return subprocess.run(seqlift_command() + [str(a) for a in args], cwd=cwd, env=env or clean_env(),
                          capture_output=True, text=True, timeout=300, **kwargs)


def user_lines(stderr: str) -> list[str]:
    """stderr without TensorFlow's native start-up log lines (which no option silences)."""
    return [line for line in stderr.splitlines()
            if line.strip() and not line.startswith("WARNING: All log messages before absl")
            and not (len(line) > 5 and line[0] in "IWEF" and line[1:5].isdigit() and line[5] == " ")]


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every per-window array and column of a score file."""
    with h5py.File(path, "r") as f:
        arrays = {name: f[name][()] for name in ARRAYS}
        for column in WINDOW_COLUMNS:
            data = f["windows"][column]
            arrays[f"windows/{column}"] = data.asstr()[()] if data.dtype.kind == "O" else data[()]
        arrays["dropped/row"] = f["dropped/row"][()]
    return arrays


def assert_same_arrays(got: dict[str, np.ndarray], want: dict[str, np.ndarray], rows: slice | np.ndarray = slice(None)) -> None:
    """Bit-for-bit equality of every array (``rows`` of ``want``)."""
    for name, value in want.items():
        if name == "dropped/row":
            continue
        expected = value[:, rows] if name in ("contributions", "hypothetical", "deltas", "target_deltas") else value[rows]
        assert got[name].shape == expected.shape, name
        assert np.array_equal(got[name], expected), f"{name} differs"


def assert_failed_cleanly(done: subprocess.CompletedProcess, message: str, out_dir: Path) -> None:
    """Exit 1, one 'seqlift score: error:' line (the last) containing ``message``, nothing written."""
    lines = user_lines(done.stderr)
    assert done.returncode == 1, done.stderr
    errors = [line for line in lines if "error" in line.lower()]
    assert errors == [lines[-1]] and lines[-1].startswith("seqlift score: error: "), lines
    assert all(line.startswith("seqlift: ") for line in lines[:-1]), lines
    assert message in lines[-1], lines[-1]
    assert "Traceback" not in done.stderr
    assert not out_dir.exists() or not any(out_dir.iterdir()), list(out_dir.iterdir())


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("score_inputs")
    paths = write_inputs(folder)
    import keras
    from keras import layers

    keras.Sequential([keras.Input((LENGTH, 5)), layers.Flatten(), layers.Dense(1)]).save(folder / "five.keras")
    keras.Sequential([keras.Input((LENGTH, 4)), layers.GroupNormalization(1), layers.Flatten(),
                      layers.Dense(1)]).save(folder / "group_norm.keras")
    (folder / "garbage.keras").write_bytes(b"not a model at all\n")
    return dict(paths, five=folder / "five.keras", unsupported=folder / "group_norm.keras", garbage=folder / "garbage.keras")


@pytest.fixture(scope="module")
def whole(inputs, tmp_path_factory) -> dict:
    """One uninterrupted, unsharded run: the reference for the others."""
    folder = tmp_path_factory.mktemp("whole")
    done = seqlift("score", inputs["peaks"], "--model", inputs["model"], "--genome", inputs["genome"],
                   *SMALL, "--chunk-size", "8", "--bigwig", "--out", folder / "run", cwd=folder)
    assert done.returncode == 0, done.stderr
    return {"folder": folder, "prefix": folder / "run", "done": done, "arrays": read_arrays(folder / "run.h5")}


def score_args(inputs: dict[str, Path], prefix: Path, *extra: object) -> list[object]:
    return ["score", inputs["peaks"], "--model", inputs["model"], "--genome", inputs["genome"], *SMALL,
            "--out", prefix, *extra]


def derived_files(prefix: Path) -> list[str]:
    return [f"{prefix}{suffix}" for suffix in
            (".ohe.npz", ".task0.hyp.npz", ".task1.hyp.npz", ".regions.bed", ".dropped.tsv", ".task0.bw", ".task1.bw")]


def assert_same_files(prefix: Path, reference: Path) -> None:
    for got, want in zip(derived_files(prefix), derived_files(reference)):
        assert Path(got).read_bytes() == Path(want).read_bytes(), got


# --------------------------------------------------------------------------- a plain run
def test_run_logs_a_one_line_summary_and_no_progress_bar_off_a_terminal(whole):
    lines = user_lines(whole["done"].stderr)
    summary = lines[-1]
    assert summary.startswith(f"seqlift: scored {N_REGIONS - len(DROPPED_ROWS)} regions, dropped 2 (2 x window runs "
                              "before the start of chr2"), summary
    assert "regions/s" in summary and f"{whole['prefix']}.h5" in summary and ".regions.bed" in summary
    assert "\r" not in whole["done"].stderr and "region/s" not in whole["done"].stderr
    assert not list(whole["folder"].glob("*.partial"))
    rows = whole["arrays"]["windows/row"]
    assert sorted(set(range(N_REGIONS)) - set(rows)) == list(DROPPED_ROWS)
    assert list(whole["arrays"]["dropped/row"]) == list(DROPPED_ROWS)
    assert np.array_equal(whole["arrays"]["windows/line"], rows + 3)  # two header lines, 1-based
    assert sorted(p.name for p in whole["folder"].iterdir()) == [  # one hypothetical file and bigWig per task
        "run.dropped.tsv", "run.h5", "run.ohe.npz", "run.regions.bed", "run.task0.bw", "run.task0.hyp.npz",
        "run.task1.bw", "run.task1.hyp.npz"]
    dropped = (whole["folder"] / "run.dropped.tsv").read_text().splitlines()
    assert dropped == ["row\tline\tchrom\tstart\tend\tname\tunknown\treason"] + [
        f"{row}\t{row + 3}\tchr2\t-180\t220\tpeak{row}\tNA\twindow runs before the start of chr2 (length 3000)"
        for row in DROPPED_ROWS]


def test_help_says_what_batch_size_counts():
    done = seqlift("score", "--help", cwd=Path.cwd())
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "SEQUENCES per model pass" in text and "(sequence, reference) pairs" in text
    for option in ("--genome", "--shuffles", "--method", "--task", "--target-layer", "--width", "--off-chrom",
                   "--revcomp", "--seed", "--batch-size", "--out", "--bigwig", "--resume", "--shard"):
        assert option in text


# --------------------------------------------------------------------------- reproducibility
def test_shards_equal_the_whole_run_and_merge_back_into_it(inputs, whole, tmp_path):
    env = clean_env(SEQLIFT_GENOME=str(inputs["genome"]))  # the genome from the environment this time
    all_rows = whole["arrays"]["windows/row"]
    for index, chunk in ((1, 8), (2, 5)):  # shard boundary at row 20, inside a pass of 3 rows
        prefix = tmp_path / f"shard{index}"
        done = seqlift("score", inputs["peaks"], "--model", inputs["model"], *SMALL, "--chunk-size", chunk,
                       "--bigwig", "--shard", f"{index}/2", "--out", prefix, cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        low, high = (index - 1) * N_REGIONS // 2, index * N_REGIONS // 2
        in_shard = np.flatnonzero((all_rows >= low) & (all_rows < high))
        assert_same_arrays(read_arrays(Path(f"{prefix}.h5")), whole["arrays"], rows=in_shard)

    done = seqlift("merge", tmp_path / "shard2", tmp_path / "shard1", "--out", tmp_path / "merged", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert_same_arrays(read_arrays(tmp_path / "merged.h5"), whole["arrays"])
    assert_same_files(tmp_path / "merged", whole["prefix"])
    with h5py.File(tmp_path / "merged.h5") as merged, h5py.File(f"{whole['prefix']}.h5") as reference:
        assert merged.attrs["parameters"] == reference.attrs["parameters"]


@pytest.mark.parametrize(
    "shards, message",
    [
        (("shard1", "shard2"), "shard 3 of 3 is missing"),
        (("shard1", "shard2", "shard3", "shard2"), "the same shard is given twice"),
        (("shard1", "shard2", "other3"), "come from different runs: seed 0"),
        (("shard1", "shard2", "whole"), "is not a shard"),
    ],
)
def test_merge_refuses_shards_that_do_not_make_one_run(shards, message, tmp_path):
    """Shard files are faked by editing a score file's attributes: merge reads only the HDF5 files."""
    from seqlift.scoring.store import ScoreStore

    def fake(name: str, shard: str | None, rows: tuple[int, int], seed: int = 0) -> None:
        parameters = {"seed": seed, "shard": shard, "rows": list(rows), "bigwig": False}
        with ScoreStore.create(str(tmp_path / f"{name}.h5"), parameters, [0], 10, {"c": 100}, {}, rows, 30) as s:
            s.mark_complete()

    for index in (1, 2, 3):
        fake(f"shard{index}", f"{index}/3", (10 * index - 10, 10 * index))
    fake("other3", "3/3", (20, 30), seed=1)
    fake("whole", None, (0, 30))
    done = seqlift("merge", *(tmp_path / name for name in shards), "--out", tmp_path / "out" / "merged", cwd=tmp_path)
    lines = user_lines(done.stderr)
    assert done.returncode == 1 and len(lines) == 1 and lines[0].startswith("seqlift merge: error: "), done.stderr
    assert message in lines[0]
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- interruption
def test_interrupted_runs_keep_only_a_partial_file_that_resume_completes_identically(inputs, whole, tmp_path):
    prefix = tmp_path / "run"
    args = score_args(inputs, prefix, "--chunk-size", "8", "--bigwig")
    # Ctrl-C at a terminal: SIGINT handled as Python does by default, even where this test runs in a
    # background job (whose children inherit SIGINT ignored, so the signal would be lost)
    ctrl_c = seqlift(*args, cwd=tmp_path, env=clean_env(SEQLIFT_TEST_SIGNAL_AFTER_CHUNK="1:INT"),
                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert ctrl_c.returncode == 130, ctrl_c.stderr
    assert user_lines(ctrl_c.stderr)[-1] == "seqlift score: interrupted"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5.partial"]  # nothing that looks finished
    with h5py.File(tmp_path / "run.h5.partial") as partial:
        assert partial["progress"].shape[0] == 1 and not partial.attrs["complete"]

    refused = seqlift(*args, "--resume", "--seed", "1", "--shuffles", "5", cwd=tmp_path)
    lines = user_lines(refused.stderr)
    assert refused.returncode == 1 and len(lines) == 1, refused.stderr
    assert "cannot resume" in lines[0] and "seed 0 (now 1)" in lines[0] and "shuffles 6 (now 5)" in lines[0]

    # resumed with another chunk size (allowed: it does not change the scores), then killed hard
    killed = seqlift(*args, "--resume", "--chunk-size", "5", cwd=tmp_path,
                     env=clean_env(SEQLIFT_TEST_SIGNAL_AFTER_CHUNK="3:KILL"))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert "1 chunks done, 9 of 40 input rows" in killed.stderr
    # the killed run's lock file stays, unlocked: the next run takes it over
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.h5.partial", "run.lock"]

    resumed = seqlift(*args, "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "3 chunks done, 18 of 40 input rows" in resumed.stderr
    assert not (tmp_path / "run.h5.partial").exists() and not (tmp_path / "run.lock").exists()
    assert_same_arrays(read_arrays(tmp_path / "run.h5"), whole["arrays"])
    assert_same_files(prefix, whole["prefix"])


# --------------------------------------------------------------------------- strands, FASTA, batch size
def _run_on_a_terminal(command: list[str], cwd: Path) -> tuple[int, bytes]:
    """Run ``command`` with stderr on a pseudo-terminal 120 columns wide; (exit status, what it showed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    process = subprocess.Popen(command, cwd=cwd, env=clean_env(), stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        shown += data
    os.close(master)
    return process.wait(timeout=300), shown


def test_fasta_input_with_revcomp_average_on_a_terminal(whole, inputs, tmp_path):
    """A FASTA needs no genome; --revcomp average is the mean of both strands against paired references;
    another batch size gives identical arrays; a terminal shows a progress bar with regions/s."""
    from seqlift.engine import attribute
    from seqlift.model import load_model
    from seqlift.sequences.onehot import decode
    from seqlift.sequences.references import resolve

    onehot = whole["arrays"]["onehot"][:12]
    names = [f"seq{i}" for i in range(12)]
    fasta = tmp_path / "seqs.fa"
    fasta.write_text("".join(f">{name}\n{sequence}\n" for name, sequence in zip(names, decode(onehot))))
    command = seqlift_command() + ["score", str(fasta), "--model", str(inputs["model"]), "--shuffles", "6",
                                   "--batch-size", "5", "--revcomp", "average", "--out", str(tmp_path / "fa")]
    status, shown = _run_on_a_terminal(command, tmp_path)
    assert status == 0, shown.decode(errors="replace")
    assert b"region/s" in shown and b"\r" in shown
    got = read_arrays(tmp_path / "fa.h5")
    assert list(got["windows/chrom"]) == names and list(got["windows/row"]) == list(range(12))
    assert np.array_equal(got["onehot"], onehot)

    model = load_model(inputs["model"])
    x = onehot.astype(np.float32)
    references = resolve(6, x, 0)
    flip = lambda a: np.ascontiguousarray(a[..., ::-1, ::-1])  # noqa: E731
    forward = attribute(model, x, references=references, task=[0, 1], batch_size=72)
    reverse = attribute(model, flip(x), references=flip(references), task=[0, 1], batch_size=72)
    expected = {
        "contributions": (forward.contributions + flip(reverse.contributions)) / 2,
        "hypothetical": (forward.hypothetical + flip(reverse.hypothetical)) / 2,
        "deltas": (forward.deltas + reverse.deltas) / 2,
        "target_deltas": (forward.target_deltas + reverse.target_deltas) / 2,
    }
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    # the whole run scored these rows 3 sequences per pass, attribute() here 12: the same bits
    np.testing.assert_array_equal(forward.contributions, whole["arrays"]["contributions"][:, :12])
    np.testing.assert_array_equal(forward.hypothetical, whole["arrays"]["hypothetical"][:, :12])
    assert not np.allclose(got["contributions"], forward.contributions, atol=1e-3)  # the reverse strand counts


# --------------------------------------------------------------------------- bad input
def _bad_case(case: str, inputs: dict[str, Path], folder: Path) -> tuple[list[object], str]:
    """Arguments of ``seqlift score`` for one kind of bad input, and the expected message."""
    good = ["--model", inputs["model"], "--genome", inputs["genome"]]
    peaks = inputs["peaks"]
    if case == "malformed BED line":
        (folder / "bad.bed").write_text("track name=x\nchr1\t10\t200\nchr1\tten\t300\n")
        return [folder / "bad.bed", *good], "bad.bed:3: start (column 2) 'ten' is not an integer"
    if case == "unknown chromosome":
        (folder / "chrz.bed").write_text("chr1\t10\t200\nchrZ\t10\t200\n")
        return [folder / "chrz.bed", *good], "chrz.bed:2: chromosome 'chrZ' is not in"
    if case == "empty BED":
        (folder / "empty.bed").write_text("# no regions\n\n")
        return [folder / "empty.bed", *good], "empty.bed holds no regions"
    if case == "all regions dropped":
        (folder / "edge.bed").write_text("chr2\t0\t10\nchr2\t2990\t3000\n")
        return [folder / "edge.bed", *good], "all 2 regions of"
    if case == "no genome":
        return [peaks, "--model", inputs["model"]], "give the genome FASTA with --genome or the SEQLIFT_GENOME"
    if case == "model file missing":
        return [peaks, "--model", folder / "nope.keras", "--genome", inputs["genome"]], "nope.keras does not exist"
    if case == "not a model":
        return [peaks, "--model", inputs["garbage"], "--genome", inputs["genome"]], "is not a Keras model file"
    if case == "unsupported layer":
        return [peaks, "--model", inputs["unsupported"], "--genome", inputs["genome"]], "(GroupNormalization) is not supported"
    if case == "task beyond the outputs":
        return [peaks, *good, "--task", "0,5"], "task 5 is out of range: the target 'dense/preact' has 2 outputs"
    if case == "input not one-hot DNA":
        return [peaks, "--model", inputs["five"], "--genome", inputs["genome"]], "takes input of shape (400, 5), not one-hot DNA"
    if case == "width disagrees":
        return [peaks, *good, "--width", "300"], "--width 300 disagrees with the model's input length 400"
    if case == "bad shard":
        return [peaks, *good, "--shard", "4/3"], "--shard 4/3: I must be between 1 and N"
    raise AssertionError(case)


@pytest.mark.parametrize("case", [
    "malformed BED line", "unknown chromosome", "empty BED", "all regions dropped", "no genome",
    "model file missing", "not a model", "unsupported layer", "task beyond the outputs",
    "input not one-hot DNA", "width disagrees", "bad shard",
])
def test_bad_input_fails_with_one_line_and_leaves_nothing(case, inputs, tmp_path):
    args, message = _bad_case(case, inputs, tmp_path)
    out_dir = tmp_path / "out"
    done = seqlift("score", *args, "--out", out_dir / "scores", cwd=tmp_path)
    assert_failed_cleanly(done, message, out_dir)


def test_output_under_a_regular_file_is_refused(inputs, tmp_path):
    (tmp_path / "file").write_text("a file, not a directory\n")
    done = seqlift(*score_args(inputs, tmp_path / "file" / "sub" / "scores"), cwd=tmp_path)
    assert_failed_cleanly(done, f"{tmp_path / 'file'} is not a directory", tmp_path / "file" / "sub")


def _as_nobody(command: list[str], folder: Path) -> list[str]:
    """``command`` run as user nobody when we are root (root ignores permission bits); skips if impossible."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root, and setpriv (to drop to user nobody) is not installed: permissions not enforceable")
    demote = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    probe = subprocess.run(demote + ["cat", str(folder / "genome.fa")], capture_output=True)
    if probe.returncode == 0:
        pytest.skip("permission bits are not enforced even for user nobody here")
    if subprocess.run(demote + ["test", "-r", command[0]], capture_output=True).returncode != 0:
        pytest.skip(f"user nobody cannot read {command[0]} (the checkout lies in a folder only root may enter)")
    return demote + command


def test_unreadable_genome_and_read_only_output_directory(inputs):
    folder = Path(tempfile.mkdtemp(prefix="seqlift-perm-"))  # outside root's private tmp: nobody may enter
    try:
        folder.chmod(0o777)
        for name in ("peaks", "model", "genome"):
            shutil.copy(inputs[name], folder / inputs[name].name)
            (folder / inputs[name].name).chmod(0o644)
        (folder / "genome.fa").chmod(0)
        (folder / "locked").mkdir()
        (folder / "locked").chmod(0o555)
        base = seqlift_command() + ["score", "peaks.narrowPeak", "--model", "model.keras", "--genome", "genome.fa"]
        command = _as_nobody(base, folder)
        unreadable = subprocess.run(command + ["--out", str(folder / "out" / "scores")], cwd=folder,
                                    env=clean_env(), capture_output=True, text=True, timeout=300)
        assert_failed_cleanly(unreadable, "cannot read FASTA file genome.fa: permission denied", folder / "out")

        (folder / "genome.fa").chmod(0o644)
        locked = subprocess.run(command + ["--out", str(folder / "locked" / "scores")], cwd=folder,
                                env=clean_env(), capture_output=True, text=True, timeout=300)
        assert_failed_cleanly(locked, f"cannot write outputs in {folder / 'locked'}: permission denied",
                              folder / "locked")
    finally:
        shutil.rmtree(folder, ignore_errors=True)

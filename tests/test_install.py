"""seqlift installed from a wheel, without the repository, runs its commands.

The repository's files (tracked, and new ones git does not ignore) are copied
to a temporary folder, built into a wheel (``pip wheel --no-build-isolation``:
setuptools and wheel come with the ``dev`` extra, so nothing is downloaded)
and installed with ``pip install --no-deps --no-index`` into a fresh virtual
environment. That environment finds the dependencies (TensorFlow, ...) in the
test's own environment through a ``.pth`` file, which adds those folders as
plain paths: the test environment's editable seqlift is not among them.
Everything then runs from a folder outside the repository, with no
``PYTHONPATH``, so only the installed package is used: ``seqlift simulate``
with the shipped motifs, ``seqlift score`` on the shipped demo, ``seqlift
report`` with the shipped motifs, and the shipped model the engine suite of
``seqlift bench`` times. Before: they failed, reading ``data/`` from the
repository tree.
"""
from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: what is never part of a build, when the repository is not a git checkout
_NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.fai",
                                     ".pytest_cache", ".snakemake", "demo-out", "bench-out")


def _copy_sources(target: Path) -> None:
    """The files a clean checkout of the repository has (plus new, not ignored ones), links kept as links."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            capture_output=True) if shutil.which("git") else None
    if listed is None or listed.returncode != 0:
        shutil.copytree(REPO, target, symlinks=True, ignore=_NOT_SOURCE)
        return
    for name in filter(None, listed.stdout.decode().split("\0")):
        source, destination = REPO / name, target / name
        if not source.exists() and not source.is_symlink():  # deleted in the work tree
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            destination.symlink_to(os.readlink(source))
        elif source.is_file():
            shutil.copy2(source, destination)


def _user_env() -> dict[str, str]:
    """A shell's environment without anything pointing at the repository."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEQLIFT_", "PYTHON"))}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """A fresh virtual environment with seqlift installed from a wheel; the folder to run in."""
    root = tmp_path_factory.mktemp("install")
    _copy_sources(root / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(root / "dist"), str(root / "src")], check=True, cwd=root, capture_output=True)
    wheel = next((root / "dist").glob("seqlift-*.whl"))
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(root / "venv")], check=True, capture_output=True)
    python = root / "venv" / "bin" / "python"
    packages = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                              check=True, capture_output=True, text=True).stdout.strip()
    Path(packages, "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    "--no-index", str(wheel)], check=True, capture_output=True)
    work = root / "elsewhere"
    work.mkdir()
    return {"python": python, "seqlift": root / "venv" / "bin" / "seqlift", "work": work, "packages": Path(packages)}


def _run(installed: dict[str, Path], *args: object) -> subprocess.CompletedProcess:
    return subprocess.run([str(installed["seqlift"]), *map(str, args)], cwd=installed["work"], env=_user_env(),
                          capture_output=True, text=True, timeout=600)


def _shipped(installed: dict[str, Path], *parts: str) -> Path:
    code = f"from seqlift.data import shipped_file; print(shipped_file(*{parts!r}))"
    done = subprocess.run([str(installed["python"]), "-c", code], cwd=installed["work"], env=_user_env(),
                          capture_output=True, text=True, check=True)
    return Path(done.stdout.strip())


def test_the_installed_package_is_the_wheels_not_the_repository(installed):
    done = subprocess.run([str(installed["python"]), "-c", "import seqlift; print(seqlift.__file__)"],
                          cwd=installed["work"], env=_user_env(), capture_output=True, text=True, check=True)
    assert Path(done.stdout.strip()).parent == installed["packages"] / "seqlift"
    assert _shipped(installed, "demo", "model.h5").is_relative_to(installed["packages"])


def test_simulate_with_the_shipped_motifs(installed):
    done = _run(installed, "simulate", "sim", "--n-per-class", "5", "--no-genome")
    assert done.returncode == 0, done.stderr
    assert "GATA" in (installed["work"] / "sim" / "motifs.meme").read_text().upper()


def test_score_the_shipped_demo(installed):
    demo = _shipped(installed, "demo", "model.h5").parent
    done = _run(installed, "score", demo / "regions.bed", "--model", demo / "model.h5", "--genome", demo / "genome.fa",
                "--shuffles", "2", "--shard", "1/40", "--batch-size", "10", "--out", "scores")
    assert done.returncode == 0, done.stderr
    assert "scored 20 regions" in done.stderr
    assert (installed["work"] / "scores.ohe.npz").exists()


def test_report_and_bench_use_the_shipped_files(installed):
    demo = _shipped(installed, "demo", "model.h5").parent
    work = installed["work"]
    records = (demo / "sequences.fa").read_text().split(">")[1:41]  # 40 of the demo's sequences
    (work / "few.fa").write_text("".join(">" + record for record in records))
    names = {record.split()[0] for record in records}
    labels = (demo / "labels.tsv").read_text().splitlines()
    (work / "few.tsv").write_text("\n".join([labels[0], *(line for line in labels[1:] if line.split("\t")[0] in names)]) + "\n")
    report = _run(installed, "report", "--model", demo / "model.h5", "--fasta", "few.fa", "--labels", "few.tsv",
                  "--truth", demo / "instances.tsv", "--methods", "gradient", "--out", "report")
    assert report.returncode == 0, report.stderr
    assert (work / "report" / "report.html").exists()
    # the engine suite's model (a full suite takes a minute; what failed was finding the model)
    code = "from seqlift.bench import engine_bench as b; label, path, _ = b._model_files(); print(label, path.is_file())"
    bench = subprocess.run([str(installed["python"]), "-c", code], cwd=work, env=_user_env(), capture_output=True,
                           text=True)
    assert bench.returncode == 0, bench.stderr
    assert bench.stdout.strip() == "demo model (seqlift/data/demo/model.h5) True"

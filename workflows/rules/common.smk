# Settings, paths and helpers shared by the rules (no rules here).
#
# The settings are the shipped config.yaml with the run's config laid over it
# key by key, so a config given to the workflow (with --configfile, --config,
# or `config:` of a `module` statement) only needs the keys it changes.
#
# What seqlift decides, seqlift decides: the workflow passes the settings on and
# the commands check them (task lists by `seqlift.inputs.parse_tasks`; whether
# `regions` is a BED file or a FASTA of sequences by its content, through
# `seqlift.inputs.input_kind`), so this file needs no seqlift of its own.

import ast
import os
import shlex
import struct
import zipfile

import yaml
from snakemake.exceptions import WorkflowError

SOURCES = ("files", "simulate", "train")
RESOURCE_KINDS = ("data", "score", "merge", "report", "logos", "modisco")


def merged_settings(defaults: dict, given: dict) -> dict:
    """``given`` laid over ``defaults``, recursively for nested mappings."""
    out = dict(defaults)
    for key, value in (given or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged_settings(out[key], value)
        else:
            out[key] = value
    return out


def settings_error(message: str) -> None:
    """Stop parsing the workflow with a one-line explanation."""
    raise WorkflowError(f"seqlift workflow config: {message}")


def task_option(value) -> str:
    """A task setting (``all``, a number, a list or ``"0,2"``) as the value of a ``--task`` option.

    Only written out (a list joined with commas): the seqlift command checks it.
    """
    if value is None:
        return "all"
    items = value if isinstance(value, (list, tuple)) else [value]
    return quoted(",".join(str(item) for item in items))


def modisco_tasks(value) -> list:
    """`modisco: tasks`: the task numbers modisco runs on, one job (and one output folder) each."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items or any(isinstance(t, bool) or not isinstance(t, int) or t < 0 for t in items):
        settings_error(f"modisco: tasks: give a list of task numbers (modisco runs once per task), got {value!r}")
    return list(items)


def positive(value, key: str) -> int:
    """A setting that must be a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        settings_error(f"{key}: expected a positive integer, got {value!r}")
    return value


def npz_window(path: str) -> int:
    """Window length L of an (N, 4, L) array saved in an .npz (read from the .npy header only)."""
    with zipfile.ZipFile(path) as archive, archive.open("arr_0.npy") as member:
        if member.read(6) != b"\x93NUMPY":
            raise WorkflowError(f"{path}: arr_0.npy is not a .npy array")
        major = member.read(2)[0]
        size_format = "<H" if major == 1 else "<I"
        (size,) = struct.unpack(size_format, member.read(struct.calcsize(size_format)))
        header = ast.literal_eval(member.read(size).decode("latin1"))
    return int(header["shape"][-1])


def count_meme_motifs(path: str) -> int:
    """Number of MOTIF entries of a MEME file."""
    with open(path) as handle:
        return sum(1 for line in handle if line.startswith("MOTIF"))


def quoted(path) -> str:
    """A path quoted for the shell."""
    return shlex.quote(str(path))


S = merged_settings(SHIPPED_SETTINGS, config)

if S.get("source") not in SOURCES:
    settings_error(f"source: expected one of {', '.join(SOURCES)}, got {S.get('source')!r}")
SHARDS = positive(S.get("shards"), "shards")
positive(S.get("shuffles"), "shuffles")
for _kind in RESOURCE_KINDS:
    _r = S.get("resources", {}).get(_kind)
    if not isinstance(_r, dict):
        settings_error(f"resources: {_kind}: expected threads, mem_mb and runtime")
    for _key in ("threads", "mem_mb", "runtime"):
        positive(_r.get(_key), f"resources: {_kind}: {_key}")

SEQLIFT = str(S.get("seqlift") or "seqlift")
OUT = str(S["outdir"]).rstrip("/") or "."
DATA = f"{OUT}/data"
LOGS = f"{OUT}/logs"
SIMULATED = S["source"] in ("simulate", "train")
#: prefix of the final score outputs (PREFIX.h5, .ohe.npz, .hyp.npz, .regions.bed, .dropped.tsv)
SCORES = f"{OUT}/scores/scores"
SHARD_PREFIX = f"{OUT}/shards/shard{{shard}}of{SHARDS}"

MODEL = f"{DATA}/model.h5" if S["source"] == "train" else S.get("model")
REGIONS = f"{DATA}/regions.bed" if SIMULATED else S.get("regions")
GENOME = f"{DATA}/genome.fa" if SIMULATED else S.get("genome")
for _key, _value in (("model", MODEL), ("regions", REGIONS)):
    if not _value:
        settings_error(f"{_key}: not set")

REPORT = S.get("report") or {}
LOGO = S.get("logos") or {}
MODISCO = S.get("modisco") or {}
REPORT_ENABLED = bool(REPORT.get("enabled"))
MODISCO_ENABLED = bool(MODISCO.get("enabled"))
LABELS = f"{DATA}/labels.tsv" if SIMULATED else REPORT.get("labels")
TRUTH = f"{DATA}/instances.tsv" if SIMULATED else REPORT.get("truth")
REPORT_MOTIFS = f"{DATA}/motifs.meme" if SIMULATED else REPORT.get("motifs")
INSTANCES = f"{DATA}/instances.tsv" if SIMULATED else LOGO.get("instances")
MODISCO_MOTIFS = f"{DATA}/motifs.meme" if SIMULATED else MODISCO.get("motifs")
if REPORT_ENABLED and not LABELS:
    settings_error("report: labels: not set (the ground-truth report needs simulated data; "
                   "set report: enabled: false for your own data)")
MODISCO_TASKS = modisco_tasks(MODISCO.get("tasks", [0])) if MODISCO_ENABLED else []


def resources_of(kind: str) -> dict:
    """threads, mem_mb and runtime (minutes) of a kind of job."""
    return S["resources"][kind]


def threads_env() -> str:
    """Shell prefix capping the libraries' thread pools at the job's {threads}."""
    return ("TF_NUM_INTRAOP_THREADS={threads} TF_NUM_INTEROP_THREADS={threads} OMP_NUM_THREADS={threads} "
            "NUMBA_NUM_THREADS={threads} TF_CPP_MIN_LOG_LEVEL=${{TF_CPP_MIN_LOG_LEVEL:-2}}")


def score_options() -> str:
    """The `seqlift score` options common to every shard (and to an unsharded run)."""
    options = [
        f"--shuffles {int(S['shuffles'])}",
        f"--method {quoted(S['method'])}",
        f"--task {task_option(S.get('tasks'))}",
        f"--seed {int(S['seed'])}",
        f"--off-chrom {quoted(S['off_chrom'])}",
        f"--revcomp {quoted(S['revcomp'])}",
    ]
    if GENOME:  # used for BED regions; seqlift score tells them from a FASTA by content
        options.append(f"--genome {quoted(GENOME)}")
    if S.get("width"):
        options.append(f"--width {positive(S['width'], 'width')}")
    if S.get("batch_size"):
        options.append(f"--batch-size {positive(S['batch_size'], 'batch_size')}")
    if S.get("resume"):
        options.append("--resume")
    if S.get("score_extra"):
        options.append(str(S["score_extra"]))
    return " ".join(options)


def score_inputs(wildcards) -> dict:
    """The files a score job reads."""
    inputs = {"regions": REGIONS, "model": MODEL}
    if GENOME:
        inputs["genome"] = GENOME
    return inputs


def score_outputs(prefix: str) -> dict:
    """The outputs of a score run whose names do not depend on the number of tasks."""
    return {"h5": f"{prefix}.h5", "ohe": f"{prefix}.ohe.npz", "regions": f"{prefix}.regions.bed",
            "dropped": f"{prefix}.dropped.tsv"}


def final_targets() -> list:
    """What `rule all` asks for."""
    targets = list(score_outputs(SCORES).values())
    targets.append(f"{OUT}/logos")
    if REPORT_ENABLED:
        targets.append(f"{OUT}/report/report.html")
    for task in MODISCO_TASKS:
        targets.append(f"{OUT}/modisco/task{task}/report")
    return targets

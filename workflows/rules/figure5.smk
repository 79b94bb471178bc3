# Figure 5b over seeds (docs/figure5_seeds.md): the target `figure5`.
#
#   snakemake -s workflows/Snakefile --cores 2 figure5
#
# Per seed S: `seqlift train-sim` (simulation and training, both seeded with S), `seqlift report`
# on its test split, and `seqlift figure5 answers` (the model's own answers: window ablation and
# the logits at the references). The shipped demo model and the paper's released model are
# reported beside the seeds. `seqlift figure5 tables` collects every run into one Markdown file
# (`seqlift figure5 splice` puts it into a document). Settings: `figure5:` in config.yaml;
# figure5_encode.yaml changes them for the control with the paper's ENCODE matrices.

F5 = S.get("figure5") or {}
F5_OUT = str(F5.get("outdir") or f"{OUT}/figure5").rstrip("/")


def seed_list(value, key: str) -> list:
    """A list of distinct seeds (integers >= 0)."""
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in items) or len(set(items)) != len(items):
        settings_error(f"{key}: expected a list of distinct seeds (integers >= 0), got {value!r}")
    return list(items)


F5_SEEDS = seed_list(F5.get("seeds"), "figure5: seeds")
F5_DEMO = F5.get("demo") or None
#: the paper's released files a control run reads
PAPER_FILES = {"model": "model.json", "weights": "model_weights.h5", "simdata": "sequences.simdata.gz",
               "test": "test.txt.gz"}
F5_PAPER_DIR = F5.get("paper") or None
F5_PAPER = bool(F5_PAPER_DIR) and all(os.path.exists(os.path.join(F5_PAPER_DIR, f)) for f in PAPER_FILES.values())
if not (F5_SEEDS or F5_DEMO):
    settings_error("figure5: give seeds, or a demo folder (the tables need at least one trained model)")
#: the files `seqlift train-sim` writes into a seed's folder
TRAIN_FILES = {"model": "model.h5", "metrics": "metrics.json", "sequences": "sequences.fa", "regions": "regions.bed",
               "genome": "genome.fa", "labels": "labels.tsv", "instances": "instances.tsv", "motifs": "motifs.meme"}
#: the files `seqlift report` writes that the later steps read
REPORT_FILES = {"summary": "summary.tsv", "matches": "matches.tsv", "html": "report.html"}
#: the files `seqlift figure5 answers` adds to a report folder
ANSWER_FILES = {"ablation": "ablation.tsv", "answers": "model_answers.json"}


def figure5_runs() -> list:
    """The runs, by folder name under F5_OUT: the demo, the seeds, the paper's model."""
    return (["demo"] if F5_DEMO else []) + [f"seed_{s}" for s in F5_SEEDS] + (["paper"] if F5_PAPER else [])


def figure5_data(run: str) -> str:
    """The folder of a trained run's model and test split (train-sim's output)."""
    return F5_DEMO if run == "demo" else f"{F5_OUT}/{run}"


def figure5_report(run: str) -> str:
    """A run's report folder."""
    return f"{F5_OUT}/{run}/report"


def figure5_report_inputs(wildcards) -> dict:
    """What `seqlift report` reads of a trained run."""
    data = figure5_data(wildcards.run)
    return {key: f"{data}/{TRAIN_FILES[key]}" for key in ("model", "regions", "genome", "labels", "instances", "motifs")}


def paper_inputs() -> dict:
    """The paper's released files."""
    return {key: os.path.join(F5_PAPER_DIR, name) for key, name in PAPER_FILES.items()}


def figure5_answers_inputs(wildcards) -> dict:
    """What `seqlift figure5 answers` reads of a run."""
    inputs = {"matches": f"{figure5_report(wildcards.run)}/{REPORT_FILES['matches']}"}
    if wildcards.run == "paper":
        inputs.update(paper_inputs())
    else:
        data = figure5_data(wildcards.run)
        inputs.update({key: f"{data}/{TRAIN_FILES[key]}" for key in ("model", "sequences", "labels")})
    return inputs


def figure5_answers_sources(wildcards, input) -> str:
    """The model and sequence options of `seqlift figure5 answers`."""
    if wildcards.run == "paper":
        return (f"--model {quoted(input.model)} --weights {quoted(input.weights)} "
                f"--paper-simdata {quoted(input.simdata)} --paper-test {quoted(input.test)}")
    return f"--model {quoted(input.model)} --fasta {quoted(input.sequences)} --labels {quoted(input.labels)}"


def figure5_tables_inputs(wildcards) -> list:
    """Every file the tables read: each run's report and answers, and the seeds' training metrics."""
    files = []
    for run in figure5_runs():
        files += [f"{figure5_report(run)}/{REPORT_FILES[k]}" for k in ("summary", "matches")]
        files += [f"{figure5_report(run)}/{name}" for name in ANSWER_FILES.values()]
        if run != "paper":
            files.append(f"{figure5_data(run)}/{TRAIN_FILES['metrics']}")
    return files


def figure5_tables_runs() -> str:
    """The run options of `seqlift figure5 tables`."""
    options = []
    for run in figure5_runs():
        folder, metrics = quoted(figure5_report(run)), quoted(f"{figure5_data(run)}/{TRAIN_FILES['metrics']}")
        if run == "demo":
            options.append(f"--demo-run {folder} {metrics}")
        elif run == "paper":
            options.append(f"--paper-run {folder}")
        else:
            options.append(f"--seed-run {run.split('_', 1)[1]} {folder} {metrics}")
    return " ".join(options)


def figure5_message() -> str:
    """What the tables job says it collects."""
    runs = (["the demo"] if F5_DEMO else []) + [f"seed {s}" for s in F5_SEEDS]
    if F5_PAPER:
        runs.append("the paper's model")
    elif F5_PAPER_DIR:
        runs.append(f"not the paper's model ({F5_PAPER_DIR} lacks {', '.join(PAPER_FILES.values())})")
    return "Figure 5b tables of " + ", ".join(runs)


rule figure5_train:
    """Simulate with seed S and train the paper's model on it (seed S): the run `seed_S`."""
    output:
        **{key: f"{F5_OUT}/seed_{{seed}}/{name}" for key, name in TRAIN_FILES.items()},
    wildcard_constraints:
        seed=r"\d+",
    params:
        outdir=lambda wildcards: f"{F5_OUT}/seed_{wildcards.seed}",
        n_per_class=positive(F5.get("n_per_class"), "figure5: n_per_class"),
        epochs=positive(F5.get("epochs"), "figure5: epochs"),
        motifs=f"--motifs {quoted(F5['motifs'])}" if F5.get("motifs") else "",
        extra=F5.get("train_extra") or "",
    threads: resources_of("data")["threads"]
    resources:
        mem_mb=resources_of("data")["mem_mb"],
        runtime=resources_of("data")["runtime"],
    log:
        f"{F5_OUT}/logs/train_seed_{{seed}}.log",
    shell:
        threads_env() + " " + SEQLIFT + " train-sim {params.outdir:q} --seed {wildcards.seed}"
        " --n-per-class {params.n_per_class} --epochs {params.epochs} {params.motifs} {params.extra} > {log:q} 2>&1"


rule figure5_report:
    """Report a trained run (a seed, or the demo) on its test split."""
    input:
        unpack(figure5_report_inputs),
    output:
        **{key: f"{F5_OUT}/{{run}}/report/{name}" for key, name in REPORT_FILES.items()},
    wildcard_constraints:
        run=r"seed_\d+|demo",
    params:
        outdir=lambda wildcards: figure5_report(wildcards.run),
        extra=F5.get("report_extra") or "",
    threads: resources_of("report")["threads"]
    resources:
        mem_mb=resources_of("report")["mem_mb"],
        runtime=resources_of("report")["runtime"],
    log:
        f"{F5_OUT}/logs/report_{{run}}.log",
    shell:
        threads_env() + " " + SEQLIFT + " report --model {input.model:q} --bed {input.regions:q}"
        " --genome {input.genome:q} --labels {input.labels:q} --truth {input.instances:q} --motifs {input.motifs:q}"
        " --split test {params.extra} --out {params.outdir:q} > {log:q} 2>&1"


if F5_PAPER:

    rule figure5_paper_report:
        """Report the paper's released model on its own test set (a control)."""
        input:
            **paper_inputs(),
        output:
            **{key: f"{F5_OUT}/paper/report/{name}" for key, name in REPORT_FILES.items()},
        params:
            outdir=figure5_report("paper"),
            extra=F5.get("report_extra") or "",
        threads: resources_of("report")["threads"]
        resources:
            mem_mb=resources_of("report")["mem_mb"],
            runtime=resources_of("report")["runtime"],
        log:
            f"{F5_OUT}/logs/report_paper.log",
        shell:
            threads_env() + " " + SEQLIFT + " report --model {input.model:q} --weights {input.weights:q}"
            " --paper-simdata {input.simdata:q} --paper-test {input.test:q} {params.extra} --out {params.outdir:q}"
            " > {log:q} 2>&1"


rule figure5_answers:
    """The model's own answers for a run: window ablation and the logits at the references."""
    input:
        unpack(figure5_answers_inputs),
    output:
        **{key: f"{F5_OUT}/{{run}}/report/{name}" for key, name in ANSWER_FILES.items()},
    wildcard_constraints:
        run=r"seed_\d+|demo|paper",
    params:
        report=lambda wildcards: figure5_report(wildcards.run),
        sources=figure5_answers_sources,
    threads: resources_of("report")["threads"]
    resources:
        mem_mb=resources_of("report")["mem_mb"],
        runtime=resources_of("report")["runtime"],
    log:
        f"{F5_OUT}/logs/answers_{{run}}.log",
    shell:
        threads_env() + " " + SEQLIFT + " figure5 answers --report {params.report:q} {params.sources} > {log:q} 2>&1"


rule figure5_tables:
    """Collect every run into the Markdown tables."""
    input:
        figure5_tables_inputs,
    output:
        f"{F5_OUT}/figure5_tables.md",
    params:
        runs=figure5_tables_runs(),
    message:
        figure5_message()
    threads: 1
    resources:
        mem_mb=resources_of("report")["mem_mb"],
        runtime=resources_of("report")["runtime"],
    log:
        f"{F5_OUT}/logs/tables.log",
    shell:
        SEQLIFT + " figure5 tables --out {output:q} {params.runs} > {log:q} 2>&1"


rule figure5:
    """The seeds experiment: its tables (`seqlift figure5 splice` puts them into a document)."""
    input:
        f"{F5_OUT}/figure5_tables.md",

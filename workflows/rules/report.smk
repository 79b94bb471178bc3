# The ground-truth report (Figure 5 of the DeepLIFT paper): simulated data only.


def report_inputs(wildcards) -> dict:
    """The files `seqlift report` reads."""
    inputs = {"model": MODEL, "regions": REGIONS, "labels": LABELS}
    if GENOME:
        inputs["genome"] = GENOME
    if TRUTH:
        inputs["truth"] = TRUTH
    if REPORT_MOTIFS:
        inputs["motifs"] = REPORT_MOTIFS
    return inputs


def report_sequences(wildcards, input) -> str:
    """`--regions` (BED or FASTA: seqlift report tells them apart by content) and `--genome` when given."""
    if "genome" in input.keys():
        return f"--regions {quoted(input.regions)} --genome {quoted(input.genome)}"
    return f"--regions {quoted(input.regions)}"


def report_optional(wildcards, input) -> str:
    """`--truth` and `--motifs` when given."""
    parts = []
    if "truth" in input.keys():
        parts.append(f"--truth {quoted(input.truth)}")
    if "motifs" in input.keys():
        parts.append(f"--motifs {quoted(input.motifs)}")
    return " ".join(parts)


rule report:
    """Judge the attribution methods against the simulation's ground truth."""
    input:
        unpack(report_inputs),
    output:
        html=f"{OUT}/report/report.html",
        markdown=f"{OUT}/report/summary.md",
        summary=f"{OUT}/report/summary.tsv",
        matches=f"{OUT}/report/matches.tsv",
    params:
        sequences=report_sequences,
        optional=report_optional,
        methods=",".join(REPORT.get("methods") or []) or "genomics_default,genomics_default_shuffled",
        shuffles=int(S["shuffles"]),
        seed=int(S["seed"]),
        outdir=f"{OUT}/report",
        extra=REPORT.get("extra") or "",
    threads: resources_of("report")["threads"]
    resources:
        mem_mb=resources_of("report")["mem_mb"],
        runtime=resources_of("report")["runtime"],
    log:
        f"{LOGS}/report.log",
    shell:
        threads_env() + " " + SEQLIFT + " report --model {input.model:q} {params.sequences} --labels {input.labels:q}"
        " {params.optional} --methods {params.methods} --shuffles {params.shuffles} --seed {params.seed}"
        " {params.extra} --out {params.outdir:q} > {log:q} 2>&1"

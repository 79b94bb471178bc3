# TF-MoDISco (modisco-lite) on the merged scores: one job per task for the
# motifs, one for each report. Runs when `modisco: enabled: true`.


def hypothetical_npz(task: int) -> str:
    """The merged hypothetical-contribution array of a task (one file per task when several were scored)."""
    per_task = f"{SCORES}.task{task}.hyp.npz"
    return per_task if os.path.exists(per_task) else f"{SCORES}.hyp.npz"


rule modisco_motifs:
    """Find motifs in one task's hypothetical contributions."""
    input:
        scores=f"{SCORES}.h5",
        ohe=f"{SCORES}.ohe.npz",
    output:
        f"{OUT}/modisco/task{{task}}/modisco.h5",
    params:
        max_seqlets=positive(MODISCO.get("max_seqlets", 2000), "modisco: max_seqlets"),
        window=MODISCO.get("window"),
        extra=MODISCO.get("extra") or "",
    wildcard_constraints:
        task=r"\d+",
    threads: resources_of("modisco")["threads"]
    resources:
        mem_mb=resources_of("modisco")["mem_mb"],
        runtime=resources_of("modisco")["runtime"],
    log:
        f"{OUT}/logs/modisco_motifs_task{{task}}.log",
    run:
        hyp = hypothetical_npz(int(wildcards.task))
        if not os.path.exists(hyp):
            raise WorkflowError(f"no hypothetical contributions for task {wildcards.task} "
                                f"(looked for {SCORES}.task{wildcards.task}.hyp.npz and {SCORES}.hyp.npz); "
                                "is the task among those scored (`tasks`)?")
        length = npz_window(input.ohe)
        window = int(params.window or length)
        if not 0 < window <= length:
            raise WorkflowError(f"modisco: window {window} must be between 1 and the window length {length}")
        shell(
            "NUMBA_NUM_THREADS={threads} OMP_NUM_THREADS={threads} modisco motifs -s {input.ohe:q} "
            + f"-a {quoted(hyp)} -w {window} "
            + "-n {params.max_seqlets} {params.extra} -o {output:q} > {log:q} 2>&1"
        )


rule modisco_report:
    """The modisco-lite HTML report of one task's motifs."""
    input:
        results=f"{OUT}/modisco/task{{task}}/modisco.h5",
        **({"motifs": MODISCO_MOTIFS} if MODISCO_MOTIFS else {}),
    output:
        directory(f"{OUT}/modisco/task{{task}}/report"),
    wildcard_constraints:
        task=r"\d+",
    threads: 1
    resources:
        mem_mb=resources_of("modisco")["mem_mb"],
        runtime=resources_of("modisco")["runtime"],
    log:
        f"{OUT}/logs/modisco_report_task{{task}}.log",
    run:
        known = ""
        if "motifs" in input.keys():
            # tomtom-lite (no MEME suite needed), at most as many matches as known motifs
            known = f"-m {quoted(input.motifs)} -l -n {min(3, count_meme_motifs(input.motifs))}"
        shell("modisco report -i {input.results:q} -o {output:q} " + known + " > {log:q} 2>&1")

# Logos of the top regions of each task, from the merged scores.


def logo_inputs(wildcards) -> dict:
    """The score file, and the motif instances to box when given."""
    inputs = {"scores": f"{SCORES}.h5"}
    if INSTANCES:
        inputs["instances"] = INSTANCES
    return inputs


def logo_boxes(wildcards, input) -> str:
    """`--instances` when given."""
    return f"--instances {quoted(input.instances)}" if "instances" in input.keys() else ""


rule logos:
    """Draw the top regions of each task (actual and hypothetical contributions)."""
    input:
        unpack(logo_inputs),
    output:
        directory(f"{OUT}/logos"),
    params:
        top=positive(LOGO.get("top", 3), "logos: top"),
        tasks=task_option(LOGO.get("tasks", "all")),
        format=LOGO.get("format") or "png",
        boxes=logo_boxes,
        extra=LOGO.get("extra") or "",
    threads: resources_of("logos")["threads"]
    resources:
        mem_mb=resources_of("logos")["mem_mb"],
        runtime=resources_of("logos")["runtime"],
    log:
        f"{LOGS}/logos.log",
    shell:
        SEQLIFT + " logo {input.scores:q} --top {params.top} --task {params.tasks} {params.boxes}"
        " --format {params.format} {params.extra} --out {output:q} > {log:q} 2>&1"

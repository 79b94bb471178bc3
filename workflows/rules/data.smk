# Inputs made by seqlift itself: `source: simulate` or `source: train`.

SIMULATION_FILES = {
    "regions": f"{DATA}/regions.bed",
    "genome": f"{DATA}/genome.fa",
    "sequences": f"{DATA}/sequences.fa",
    "labels": f"{DATA}/labels.tsv",
    "instances": f"{DATA}/instances.tsv",
    "motifs": f"{DATA}/motifs.meme",
}

if S["source"] == "simulate":

    rule simulate:
        """Simulate the DeepLIFT paper's GATA1/TAL1 sequences with ground truth."""
        output:
            **SIMULATION_FILES,
        params:
            n_per_class=positive(S["simulate"]["n_per_class"], "simulate: n_per_class"),
            seed=int(S["simulate"]["seed"]),
            extra=S["simulate"].get("extra") or "",
        threads: resources_of("data")["threads"]
        resources:
            mem_mb=resources_of("data")["mem_mb"],
            runtime=resources_of("data")["runtime"],
        log:
            f"{LOGS}/simulate.log",
        shell:
            threads_env() + " " + SEQLIFT + " simulate " + quoted(DATA) + " --n-per-class {params.n_per_class}"
            " --seed {params.seed} {params.extra} > {log:q} 2>&1"

elif S["source"] == "train":

    rule train_sim:
        """Simulate, train the DeepLIFT paper's model, and write its test split."""
        output:
            model=f"{DATA}/model.h5",
            metrics=f"{DATA}/metrics.json",
            **SIMULATION_FILES,
        params:
            n_per_class=positive(S["train"]["n_per_class"], "train: n_per_class"),
            seed=int(S["train"]["seed"]),
            epochs=positive(S["train"]["epochs"], "train: epochs"),
            extra=S["train"].get("extra") or "",
        threads: resources_of("data")["threads"]
        resources:
            mem_mb=resources_of("data")["mem_mb"],
            runtime=resources_of("data")["runtime"],
        log:
            f"{LOGS}/train_sim.log",
        shell:
            threads_env() + " " + SEQLIFT + " train-sim " + quoted(DATA) + " --n-per-class {params.n_per_class}"
            " --seed {params.seed} --epochs {params.epochs} {params.extra} > {log:q} 2>&1"

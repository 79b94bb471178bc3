# Scoring: one `seqlift score` job per shard, then `seqlift merge`; or one job
# when `shards: 1`. `seqlift score --shard I/N` scores the I-th of N contiguous
# pieces of the regions' rows; the merged arrays equal an unsharded run's.

if SHARDS == 1:

    rule score:
        """Score every region in one job."""
        input:
            unpack(score_inputs),
        output:
            **score_outputs(SCORES),
        params:
            options=score_options(),
            bigwig="--bigwig" if S.get("bigwig") else "",
            prefix=SCORES,
        threads: resources_of("score")["threads"]
        resources:
            mem_mb=resources_of("score")["mem_mb"],
            runtime=resources_of("score")["runtime"],
        log:
            f"{LOGS}/score.log",
        shell:
            threads_env() + " " + SEQLIFT + " score {input.regions:q} --model {input.model:q} {params.options}"
            " {params.bigwig} --out {params.prefix:q} > {log:q} 2>&1"

else:

    def _shard_h5(path: str):
        return path if S.get("keep_shards", True) else temp(path)

    rule score_shard:
        """Score one contiguous piece of the regions (shards are numbered from 1)."""
        input:
            unpack(score_inputs),
        output:
            h5=_shard_h5(f"{SHARD_PREFIX}.h5"),
        params:
            options=score_options(),
            prefix=SHARD_PREFIX,
            shards=SHARDS,
        wildcard_constraints:
            shard=r"[1-9][0-9]*",
        threads: resources_of("score")["threads"]
        resources:
            mem_mb=resources_of("score")["mem_mb"],
            runtime=resources_of("score")["runtime"],
        log:
            f"{LOGS}/score_shard{{shard}}of{SHARDS}.log",
        # The merge writes the modisco arrays of the whole run; a shard's own
        # copies would only double the disk used, so they are removed here.
        shell:
            threads_env() + " " + SEQLIFT + " score {input.regions:q} --model {input.model:q} {params.options}"
            " --shard {wildcards.shard}/{params.shards} --out {params.prefix:q} > {log:q} 2>&1"
            " && rm -f {params.prefix:q}.ohe.npz {params.prefix:q}.hyp.npz {params.prefix:q}.task*.hyp.npz"

    rule merge:
        """Join the shards into the outputs of the whole run."""
        input:
            expand(f"{SHARD_PREFIX}.h5", shard=range(1, SHARDS + 1)),
        output:
            **score_outputs(SCORES),
        params:
            bigwig="--bigwig" if S.get("bigwig") else "",
            prefix=SCORES,
        threads: resources_of("merge")["threads"]
        resources:
            mem_mb=resources_of("merge")["mem_mb"],
            runtime=resources_of("merge")["runtime"],
        log:
            f"{LOGS}/merge.log",
        shell:
            SEQLIFT + " merge {input:q} --out {params.prefix:q} {params.bigwig} > {log:q} 2>&1"

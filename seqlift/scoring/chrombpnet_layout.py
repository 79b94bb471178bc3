"""The score files of ChromBPNet's interpret step, written from a seqlift score file (``--layout chrombpnet``).

ChromBPNet (``chrombpnet contribs_bw``, and its training pipeline before
``modisco motifs -i``) writes, per target, ``PREFIX.<target>_scores.h5``:

======================  =========  =======  ==========================================
dataset                 shape      dtype    content
======================  =========  =======  ==========================================
``raw/seq``             (N, 4, L)  int8     the one-hot sequences (A, C, G, T)
``shap/seq``            (N, 4, L)  float32  hypothetical contributions
``projected_shap/seq``  (N, 4, L)  float32  ``shap/seq`` × ``raw/seq``: each base
                                            present's contribution
======================  =========  =======  ==========================================

ChromBPNet stores the scores as float16 through deepdish (PyTables
attributes, blosc compression, which h5py reads only with ``hdf5plugin``);
here they are float32 (no rounding of the scores) in a plain HDF5 file with
gzip, which every HDF5 reader opens: modisco-lite reads ``shap/seq`` and
``raw/seq`` by key (``modisco motifs -i PREFIX.profile_scores.h5``), and
chrombpnet's bigWig script sums ``projected_shap/seq`` over the bases. Row
``i`` is row ``i`` of ``PREFIX.interpreted_regions.bed`` (the scored windows,
narrowPeak, summit column the window's centre), written beside it by
:func:`seqlift.scoring.outputs.write_outputs`.
"""
from __future__ import annotations

import h5py
import numpy as np

from seqlift.scoring.store import ScoreStore

__all__ = ["write_scores_h5", "DATASETS"]

#: the datasets of one file and their dtypes
DATASETS = {
    "raw/seq": np.int8,
    "shap/seq": np.float32,
    "projected_shap/seq": np.float32,
}


def write_scores_h5(path: str, store: ScoreStore, target_index: int, block_rows: int) -> None:
    """Write ``PREFIX.<target>_scores.h5`` for entry ``target_index`` of the store's target axis.

    Rows are streamed from the store ``block_rows`` at a time (bounded
    memory), transposed from ``(n, L, 4)`` to ChromBPNet's ``(n, 4, L)``.
    """
    total, width = store.n_windows, store.width
    rows = max(1, min(block_rows, total))
    with h5py.File(path, "w") as handle:
        datasets = {
            name: handle.create_dataset(name, shape=(total, 4, width), dtype=dtype, chunks=(min(rows, 64), 4, width),
                                        compression="gzip", compression_opts=1, shuffle=True)
            for name, dtype in DATASETS.items()
        }
        hypothetical = store.file["hypothetical"]
        for start, stop in store.blocks(block_rows):
            onehot = store.file["onehot"][start:stop].transpose(0, 2, 1)
            shap = np.asarray(hypothetical[target_index, start:stop], np.float32).transpose(0, 2, 1)
            datasets["raw/seq"][start:stop] = onehot.astype(np.int8)
            datasets["shap/seq"][start:stop] = shap
            datasets["projected_shap/seq"][start:stop] = shap * onehot

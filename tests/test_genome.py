"""FASTA access (seqlift.genome.fasta) and the streaming sequence loaders (seqlift.genome.windows)."""
from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import seqlift.genome.fasta as genome_module
from seqlift.errors import SeqliftError
from seqlift.genome.fasta import Genome
from seqlift.genome.windows import (
    DROPPED_COLUMNS,
    WINDOW_COLUMNS,
    RegionChunk,
    load_fasta_sequences,
    load_regions,
)
from seqlift.sequences.onehot import decode, one_hot, reverse_complement


def write_fasta(path: Path, records: dict[str, str], line_width: int = 60) -> Path:
    with open(path, "w") as handle:
        for name, sequence in records.items():
            handle.write(f">{name} some description\n")
            for i in range(0, len(sequence), line_width):
                handle.write(sequence[i : i + line_width] + "\n")
    return path


def random_dna(rng: np.random.Generator, length: int, alphabet: str = "ACGT") -> str:
    return "".join(rng.choice(list(alphabet), length))


@pytest.fixture
def contigs() -> dict[str, str]:
    rng = np.random.default_rng(7)
    return {
        "chr1": random_dna(rng, 1000),
        "chr2": random_dna(rng, 500, "ACGTacgt"),  # soft-masked stretches
        "chrM": "ACGTNRYacgtn" * 4,  # 48 bases with N and IUPAC codes
    }


@pytest.fixture
def fasta(tmp_path, contigs) -> Path:
    return write_fasta(tmp_path / "genome.fa", contigs)


def write_bed(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def concat(chunks: list[RegionChunk]) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    return (
        np.concatenate([c.onehot for c in chunks]),
        pd.concat([c.windows for c in chunks], ignore_index=True),
        pd.concat([c.dropped for c in chunks], ignore_index=True),
    )


# --------------------------------------------------------------------------- Genome


def test_index_is_built_when_missing_and_sizes_are_in_file_order(fasta, contigs):
    index = Path(str(fasta) + ".fai")
    assert not index.exists()
    with Genome(fasta) as genome:
        assert index.exists()
        assert genome.index_path == str(index)
        assert genome.chrom_sizes() == {name: len(seq) for name, seq in contigs.items()}
        assert genome.contigs == ["chr1", "chr2", "chrM"]
        assert "chr2" in genome and "chr9" not in genome


def test_fetch_matches_the_sequence_across_line_breaks(fasta, contigs):
    with Genome(fasta) as genome:
        for chrom, start, end in [("chr1", 0, 1000), ("chr1", 55, 185), ("chr2", 59, 61), ("chrM", 3, 9)]:
            assert genome.fetch(chrom, start, end) == contigs[chrom][start:end]


def test_fetch_keeps_soft_masking(fasta, contigs):
    with Genome(fasta) as genome:
        fetched = genome.fetch("chr2", 0, 500)
    assert fetched == contigs["chr2"]
    assert any(base.islower() for base in fetched) and any(base.isupper() for base in fetched)


def test_fetch_pads_off_the_ends_with_n(fasta, contigs):
    with Genome(fasta) as genome:
        assert genome.fetch("chrM", -3, 2) == "NNN" + contigs["chrM"][:2]
        assert genome.fetch("chrM", 46, 50) == contigs["chrM"][46:] + "NN"
        assert genome.fetch("chrM", 60, 64) == "NNNN"
        assert len(genome.fetch("chrM", -10, 100)) == 110


def test_stale_index_is_rebuilt(tmp_path):
    path = write_fasta(tmp_path / "g.fa", {"a": "ACGT" * 10})
    with Genome(path) as genome:
        assert genome.chrom_sizes() == {"a": 40}
    write_fasta(path, {"a": "ACGT" * 20, "b": "GG"})
    later = os.path.getmtime(str(path) + ".fai") + 10
    os.utime(path, (later, later))
    with Genome(path) as genome:
        assert genome.chrom_sizes() == {"a": 80, "b": 2}
        assert genome.fetch("b", 0, 2) == "GG"


def test_missing_fasta_names_the_path(tmp_path):
    with pytest.raises(SeqliftError, match=r"FASTA file not found: .*absent\.fa"):
        Genome(tmp_path / "absent.fa")


def test_directory_instead_of_fasta(tmp_path):
    with pytest.raises(SeqliftError, match="is a directory"):
        Genome(tmp_path)


def test_unreadable_fasta_names_the_path(fasta, make_unreadable):
    make_unreadable(fasta)
    with pytest.raises(SeqliftError, match=r"cannot read FASTA file .*genome\.fa: permission denied"):
        Genome(fasta)


def test_gzip_fasta_is_a_clear_error(tmp_path):
    """Plain gzip is never readable by pyfaidx (bgzip'd is, with biopython)."""
    path = tmp_path / "g.fa.gz"
    path.write_bytes(gzip.compress(b">a\nACGT\n"))
    with pytest.raises(SeqliftError, match=r"g\.fa\.gz .*gzip"):
        Genome(path)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        pytest.param("ragged.fa", ">a\nACGTACGT\nACG\nACGTACGT\n",
                     r"cannot index FASTA file .*ragged\.fa.*Inconsistent line", id="inconsistent-line-lengths"),
        pytest.param("dup.fa", ">a\nACGT\n>a\nGGGG\n", r"dup\.fa.*Duplicate key \"a\"", id="duplicate-record-names"),
        pytest.param("notes.txt", "chr1\t10\t20\n", r"cannot index FASTA file .*notes\.txt", id="text-that-is-not-fasta"),
    ],
)
def test_malformed_fasta_is_an_error(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SeqliftError, match=message):
        Genome(path)


def _pretend_unwritable(monkeypatch, directory: Path) -> None:
    """Make ``directory`` unwritable: chmod, plus (only for root, whom chmod does
    not stop) a patched probe that reports it unwritable."""
    directory.chmod(0o555)
    real_probe = genome_module._can_create_file_in
    if real_probe(str(directory)):  # root: permissions are not enforced
        monkeypatch.setattr(
            genome_module,
            "_can_create_file_in",
            lambda path: False if Path(path) == directory else real_probe(path),
        )


def test_index_goes_to_index_dir_when_the_fasta_directory_is_read_only(tmp_path, monkeypatch, contigs):
    read_only = tmp_path / "ro"
    read_only.mkdir()
    fasta = write_fasta(read_only / "genome.fa", contigs)
    cache = tmp_path / "cache"
    _pretend_unwritable(monkeypatch, read_only)
    try:
        with Genome(fasta, index_dir=cache) as genome:
            assert Path(genome.index_path).parent == cache
            assert Path(genome.index_path).name.startswith("genome.fa.")
            assert Path(genome.index_path).exists()
            assert genome.fetch("chr1", 10, 20) == contigs["chr1"][10:20]
        assert not (read_only / "genome.fa.fai").exists()
        # the environment variable chooses the default place
        monkeypatch.setenv("SEQLIFT_INDEX_DIR", str(tmp_path / "env-cache"))
        with Genome(fasta) as genome:
            assert Path(genome.index_path).parent == tmp_path / "env-cache"
    finally:
        read_only.chmod(0o755)


def test_existing_index_in_a_read_only_directory_is_used_in_place(tmp_path, monkeypatch, contigs):
    read_only = tmp_path / "ro"
    read_only.mkdir()
    fasta = write_fasta(read_only / "genome.fa", contigs)
    Genome(fasta).close()
    _pretend_unwritable(monkeypatch, read_only)
    try:
        with Genome(fasta, index_dir=tmp_path / "unused") as genome:
            assert genome.index_path == str(fasta) + ".fai"
        assert not (tmp_path / "unused").exists()
    finally:
        read_only.chmod(0o755)


def test_no_writable_place_for_the_index_is_a_clear_error(tmp_path, monkeypatch, contigs):
    fasta = write_fasta(tmp_path / "genome.fa", contigs)
    monkeypatch.setattr(genome_module, "_can_create_file_in", lambda path: False)
    with pytest.raises(SeqliftError, match=r"cannot build the index of .*genome\.fa: its directory is not writable.*index_dir"):
        Genome(fasta, index_dir=tmp_path / "cache")


# --------------------------------------------------------------------------- load_regions


def test_windows_are_centred_on_the_midpoint_and_encoded(tmp_path, fasta, contigs):
    bed = write_bed(tmp_path / "a.bed", ["chr1\t100\t200\tr1", "chr1\t501\t600\tr2"])
    (chunk,) = load_regions(bed, fasta, width=10)
    assert chunk.onehot.shape == (2, 10, 4)
    assert chunk.onehot.dtype == np.float32
    assert list(chunk.windows.columns) == list(WINDOW_COLUMNS)
    assert chunk.windows[["start", "end"]].values.tolist() == [[145, 155], [545, 555]]
    assert decode(chunk.onehot) == [contigs["chr1"][145:155], contigs["chr1"][545:555]]
    assert chunk.windows["name"].tolist() == ["r1", "r2"]
    assert chunk.windows["line"].tolist() == [1, 2]
    assert chunk.windows["row"].tolist() == [0, 1]
    assert len(chunk) == 2 and chunk.dropped.empty


def test_narrowpeak_windows_are_centred_on_the_summit(tmp_path, fasta, contigs):
    bed = write_bed(
        tmp_path / "p.narrowPeak",
        ["chr1\t100\t400\tp\t0\t.\t1\t1\t1\t20", "chr1\t100\t400\tq\t0\t.\t1\t1\t1\t-1"],
    )
    (chunk,) = load_regions(bed, fasta, width=11)
    assert chunk.windows[["start", "end"]].values.tolist() == [[115, 126], [245, 256]]
    assert decode(chunk.onehot[0]) == contigs["chr1"][115:126]
    # the summit base sits at offset width // 2 of its window
    assert decode(chunk.onehot[0])[11 // 2] == contigs["chr1"][120]


def test_minus_strand_windows_are_reverse_complemented_on_request(tmp_path, fasta, contigs):
    bed = write_bed(
        tmp_path / "s.bed",
        ["chr1\t0\t20\tplus\t0\t+", "chr1\t0\t20\tminus\t0\t-", "chr1\t0\t20\tnone\t0\t."],
    )
    (plain,) = load_regions(bed, fasta, width=20)
    (flipped,) = load_regions(bed, fasta, width=20, revcomp_minus=True)
    forward = contigs["chr1"][:20]
    assert decode(plain.onehot) == [forward] * 3
    assert decode(flipped.onehot) == [forward, reverse_complement(forward), forward]
    np.testing.assert_array_equal(flipped.onehot[1], plain.onehot[1][::-1, ::-1])
    assert flipped.windows["strand"].tolist() == ["+", "-", "."]


def test_soft_masked_and_iupac_bases_in_the_genome(tmp_path, fasta, contigs):
    bed = write_bed(tmp_path / "m.bed", ["chrM\t0\t12", "chr2\t0\t500"])
    (chunk,) = load_regions(bed, fasta, width=12)
    x = chunk.onehot[0]
    # ACGTNRYacgtn: A C G T, then N R Y all-zero, then a c g t as upper case, then n
    np.testing.assert_array_equal(x[:4], np.eye(4))
    assert x[4:7].sum() == 0
    np.testing.assert_array_equal(x[7:11], np.eye(4))
    assert x[11].sum() == 0
    assert decode(chunk.onehot[1]) == contigs["chr2"][244:256].upper()
    (whole,) = load_regions(bed, fasta, width=500, off_chrom="pad")
    np.testing.assert_array_equal(whole.onehot[1], one_hot(contigs["chr2"].upper()))


def test_off_chrom_drop_records_what_was_dropped(tmp_path, fasta):
    bed = write_bed(
        tmp_path / "edge.bed",
        [
            "chr1\t100\t110\tok1",
            "chr1\t0\t10\tleft",  # window [-45, 55)
            "chrM\t40\t48\tright",  # window [-6, 94): off both ends, reported as the start
            "chr1\t990\t1000\tend",  # window [945, 1045)
            "chr1\t500\t510\tok2",
        ],
    )
    (chunk,) = load_regions(bed, fasta, width=100)
    assert chunk.windows["name"].tolist() == ["ok1", "ok2"]
    assert chunk.windows["row"].tolist() == [0, 4]
    assert chunk.windows["line"].tolist() == [1, 5]
    assert chunk.onehot.shape == (2, 100, 4)
    dropped = chunk.dropped
    assert list(dropped.columns) == list(DROPPED_COLUMNS)
    assert dropped[["row", "line", "chrom", "start", "end", "name"]].values.tolist() == [
        [1, 2, "chr1", -45, 55, "left"],
        [2, 3, "chrM", -6, 94, "right"],
        [3, 4, "chr1", 945, 1045, "end"],
    ]
    assert dropped["reason"].tolist() == [
        "window runs before the start of chr1 (length 1000)",
        "window runs before the start of chrM (length 48)",
        "window runs past the end of chr1 (length 1000)",
    ]


def test_drop_is_the_default_policy(tmp_path, fasta):
    bed = write_bed(tmp_path / "edge.bed", ["chr1\t0\t10"])
    (chunk,) = load_regions(bed, fasta, width=100)
    assert len(chunk) == 0 and chunk.onehot.shape == (0, 100, 4)
    assert len(chunk.dropped) == 1


def test_off_chrom_pad_fills_with_zero_rows(tmp_path, fasta, contigs):
    bed = write_bed(tmp_path / "edge.bed", ["chr1\t0\t10\tleft", "chr1\t990\t1000\tend"])
    (chunk,) = load_regions(bed, fasta, width=100, off_chrom="pad")
    assert chunk.dropped.empty
    assert chunk.windows[["start", "end"]].values.tolist() == [[-45, 55], [945, 1045]]
    left, right = chunk.onehot
    assert left[:45].sum() == 0
    np.testing.assert_array_equal(left[45:], one_hot(contigs["chr1"][:55]))
    np.testing.assert_array_equal(right[:55], one_hot(contigs["chr1"][945:]))
    assert right[55:].sum() == 0


def test_off_chrom_error_names_line_window_and_chromosome_length(tmp_path, fasta):
    bed = write_bed(tmp_path / "edge.bed", ["chr1\t100\t110", "chr1\t990\t1000\tend"])
    with pytest.raises(
        SeqliftError,
        match=r"edge\.bed:2: window chr1:945-1045 \(width 100\) runs past the end of chr1 \(length 1000\)",
    ):
        list(load_regions(bed, fasta, width=100, off_chrom="error"))


def test_unknown_chromosome_is_an_error_naming_it_the_line_and_some_contigs(tmp_path):
    names = [f"chr{i}" for i in range(1, 23)] + ["chrX", "chrY", "chrM"]
    fasta = write_fasta(tmp_path / "genome.fa", {name: "ACGT" * 30 for name in names})
    bed = write_bed(tmp_path / "peaks.bed", ["chr1\t10\t20", "chrZ\t10\t20"])
    for policy in ("drop", "pad", "error"):
        with pytest.raises(SeqliftError) as caught:
            list(load_regions(bed, fasta, width=10, off_chrom=policy))
        message = str(caught.value)
        assert "peaks.bed:2:" in message
        assert "'chrZ' is not in" in message and "genome.fa" in message
        assert "25 contigs: chr1, chr2, chr3, ..." in message


def test_unknown_chromosome_hints_at_chr_prefix_mismatch(tmp_path, fasta):
    bed = write_bed(tmp_path / "ensembl.bed", ["1\t10\t20"])
    with pytest.raises(SeqliftError, match=r"ensembl\.bed:1: chromosome '1' is not in .*did you mean 'chr1'"):
        list(load_regions(bed, fasta, width=10))


def test_bad_arguments_are_errors_at_call_time(tmp_path, fasta):
    bed = write_bed(tmp_path / "a.bed", ["chr1\t10\t20"])
    with pytest.raises(SeqliftError, match="off-chromosome policy must be one of drop, pad, error; got 'skip'"):
        load_regions(bed, fasta, width=10, off_chrom="skip")
    with pytest.raises(SeqliftError, match="window width must be a positive integer, got 0"):
        load_regions(bed, fasta, width=0)
    with pytest.raises(SeqliftError, match="chunk size must be a positive integer"):
        load_regions(bed, fasta, width=10, chunk_size=0)
    with pytest.raises(SeqliftError, match="BED file not found"):
        load_regions(tmp_path / "none.bed", fasta, width=10)
    with pytest.raises(SeqliftError, match="FASTA file not found"):
        load_regions(bed, tmp_path / "none.fa", width=10)


def test_an_open_genome_is_reused_and_left_open(tmp_path, fasta, contigs):
    bed = write_bed(tmp_path / "a.bed", ["chr2\t0\t500"])
    with Genome(fasta) as genome:
        list(load_regions(bed, genome, width=20))
        assert genome.fetch("chr2", 0, 3) == contigs["chr2"][:3]  # still open


def test_dtype_argument(tmp_path, fasta):
    bed = write_bed(tmp_path / "a.bed", ["chr1\t10\t20"])
    (chunk,) = load_regions(bed, fasta, width=10, dtype=np.uint8)
    assert chunk.onehot.dtype == np.uint8
    assert chunk.onehot.sum() == 10


@pytest.fixture
def big_bed(tmp_path) -> Path:
    """50,000 regions (every 97th runs off chr1's start) on a 20 kb genome."""
    rng = np.random.default_rng(3)
    path = tmp_path / "big.bed"
    with open(path, "w") as handle:
        handle.write("track name=big\n")
        for i in range(50_000):
            start = 0 if i % 97 == 0 else int(rng.integers(50, 19_850))
            strand = "-" if i % 2 else "+"
            handle.write(f"chr1\t{start}\t{start + 100}\tr{i}\t0\t{strand}\n")
    return path


@pytest.fixture
def big_fasta(tmp_path) -> Path:
    rng = np.random.default_rng(4)
    return write_fasta(tmp_path / "big.fa", {"chr1": random_dna(rng, 20_000, "ACGTNacgt")})


def test_fifty_thousand_regions_stream_in_bounded_chunks_equal_to_one_chunk(big_bed, big_fasta):
    with Genome(big_fasta) as genome:
        start = time.perf_counter()
        chunks = []
        for chunk in load_regions(big_bed, genome, width=200, revcomp_minus=True, chunk_size=4_096, dtype=np.uint8):
            assert len(chunk) + len(chunk.dropped) <= 4_096
            assert chunk.onehot.shape == (len(chunk), 200, 4)
            chunks.append(chunk)
        elapsed = time.perf_counter() - start
        (whole,) = load_regions(big_bed, genome, width=200, revcomp_minus=True, chunk_size=50_000, dtype=np.uint8)
    assert len(chunks) == 13  # ceil(50000 / 4096)
    assert [len(c) + len(c.dropped) for c in chunks[:-1]] == [4_096] * 12
    onehot, windows, dropped = concat(chunks)
    assert len(windows) + len(dropped) == 50_000
    assert dropped["row"].tolist() == list(range(0, 50_000, 97))
    assert sorted(windows["row"].tolist() + dropped["row"].tolist()) == list(range(50_000))
    np.testing.assert_array_equal(onehot, whole.onehot)
    pd.testing.assert_frame_equal(windows, whole.windows)
    pd.testing.assert_frame_equal(dropped, whole.dropped)
    rate = 50_000 / elapsed
    assert rate > 1_000, f"only {rate:.0f} regions/s"


# --------------------------------------------------------------------------- load_fasta_sequences


def test_fasta_of_sequences_is_loaded_in_chunks(tmp_path):
    rng = np.random.default_rng(5)
    records = {f"seq{i}": random_dna(rng, 30, "ACGTNacgt") for i in range(25)}
    path = write_fasta(tmp_path / "seqs.fa", records, line_width=7)
    chunks = list(load_fasta_sequences(path, chunk_size=10))
    assert [len(c) for c in chunks] == [10, 10, 5]
    onehot, windows, dropped = concat(chunks)
    np.testing.assert_array_equal(onehot, one_hot(list(records.values())))
    assert windows["chrom"].tolist() == list(records) == windows["name"].tolist()
    assert windows["start"].tolist() == [0] * 25 and windows["end"].tolist() == [30] * 25
    assert windows["row"].tolist() == list(range(25))
    assert windows["line"].tolist() == list(range(1, 26))
    assert dropped.empty and list(dropped.columns) == list(DROPPED_COLUMNS)


def test_fasta_of_unequal_lengths_names_the_record(tmp_path):
    path = write_fasta(tmp_path / "seqs.fa", {"a": "ACGT" * 5, "b": "ACGT" * 5, "odd": "ACG", "c": "A"})
    with pytest.raises(
        SeqliftError,
        match=r"seqs\.fa: record 'odd' \(record 3\) has length 3 but the first record 'a' has length 20",
    ):
        load_fasta_sequences(path)


def test_fasta_sequences_missing_file(tmp_path):
    with pytest.raises(SeqliftError, match=r"FASTA file not found: .*none\.fa"):
        load_fasta_sequences(tmp_path / "none.fa")

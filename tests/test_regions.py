"""BED reading, streaming in chunks, and window resizing (seqlift.genome.regions)."""
from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import pytest

from seqlift.errors import SeqliftError
from seqlift.genome.regions import Region, chunked, iter_bed, read_bed, resize


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def all_regions(path, **kwargs) -> list[Region]:
    return list(itertools.chain.from_iterable(read_bed(path, **kwargs)))


def test_three_column_bed(tmp_path):
    bed = write(tmp_path / "a.bed", "chr1\t10\t20\nchr2\t0\t5\n")
    assert all_regions(bed) == [
        Region("chr1", 10, 20, None, ".", None, 1),
        Region("chr2", 0, 5, None, ".", None, 2),
    ]


def test_name_and_strand_columns(tmp_path):
    bed = write(
        tmp_path / "a.bed",
        "chr1\t10\t20\tpeak1\nchr1\t30\t40\tpeak2\t0\t-\nchr1\t50\t60\tpeak3\t7\t+\n",
    )
    regions = all_regions(bed)
    assert [(r.name, r.strand) for r in regions] == [("peak1", "."), ("peak2", "-"), ("peak3", "+")]


def test_headers_comments_and_blank_lines_are_skipped_but_counted(tmp_path):
    bed = write(
        tmp_path / "a.bed",
        "track name=peaks description='x'\n"
        "browser position chr1:1-100\n"
        "# a comment\n"
        "\n"
        "   \n"
        "chr1\t1\t2\n"
        "#chr1\t5\t6\n"
        "chr1\t3\t4\r\n",
    )
    regions = all_regions(bed)
    assert [(r.start, r.line) for r in regions] == [(1, 6), (3, 8)]


def test_narrowpeak_summit_is_used(tmp_path):
    bed = write(
        tmp_path / "peaks.narrowPeak",
        "chr1\t100\t300\tp1\t0\t.\t5.0\t3.1\t2.2\t50\n"
        "chr1\t400\t600\tp2\t0\t+\t5.0\t3.1\t2.2\t-1\n",
    )
    first, second = all_regions(bed)
    assert first.summit == 50
    assert first.centre == 150
    assert second.summit is None
    assert second.centre == 500


def test_gzip_bed_is_read(tmp_path):
    path = tmp_path / "a.bed.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("track x\nchr1\t10\t20\tn\nchrX\t5\t9\n")
    regions = all_regions(path)
    assert [(r.chrom, r.start, r.end, r.line) for r in regions] == [("chr1", 10, 20, 2), ("chrX", 5, 9, 3)]


def test_truncated_gzip_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "a.bed.gz"
    data = gzip.compress(b"".join(b"chr1\t%d\t%d\n" % (i, i + 10) for i in range(5000)))
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SeqliftError, match=r"a\.bed\.gz:\d+: corrupt or truncated gzip"):
        all_regions(path)


@pytest.mark.parametrize(
    "line, message",
    [
        ("chr1\t10", r"bad\.bed:2: too few columns: found 2"),
        ("chr1 10 20", r"bad\.bed:2: too few columns: found 1.*tabs"),
        ("chr1\tten\t20", r"bad\.bed:2: start \(column 2\) 'ten' is not an integer"),
        ("chr1\t10\t2.5e3", r"bad\.bed:2: end \(column 3\) '2\.5e3' is not an integer"),
        ("chr1\t1_0\t20", r"bad\.bed:2: start \(column 2\) '1_0' is not an integer"),
        ("chr1\t-10\t20", r"bad\.bed:2: start \(column 2\) -10 is negative"),
        ("chr1\t10\t-20", r"bad\.bed:2: end \(column 3\) -20 is negative"),
        ("chr1\t20\t10", r"bad\.bed:2: start 20 is not less than end 10"),
        ("chr1\t20\t20", r"bad\.bed:2: start 20 is not less than end 20"),
        ("\t10\t20", r"bad\.bed:2: the chromosome name \(column 1\) is empty"),
        ("chr1\t10\t20\tn\t0\tx", r"bad\.bed:2: strand \(column 6\) 'x' is not '\+', '-' or '\.'"),
        ("chr1\t10\t20\tn\t0\t", r"bad\.bed:2: strand \(column 6\) '' is not"),
        ("chr1\t10\t20\tn\t0\t.\t1\t1\t1\tmid", r"bad\.bed:2: summit \(column 10\) 'mid' is not an integer"),
        ("chr1\t10\t20\tn\t0\t.\t1\t1\t1\t10", r"bad\.bed:2: summit \(column 10\) 10 lies outside the region chr1:10-20"),
        ("chr1\t10\t20\tn\t0\t.\t1\t1\t1\t-2", r"bad\.bed:2: summit \(column 10\) -2 lies outside"),
        ("chr1\t10\t20\tn\t0\t.\t1\t1\t1\t--2", r"bad\.bed:2: summit \(column 10\) '--2' is not an integer"),
    ],
)
def test_malformed_lines_name_file_line_and_problem(tmp_path, line, message):
    bed = write(tmp_path / "bad.bed", f"chr1\t0\t5\n{line}\nchr1\t0\t5\n")
    with pytest.raises(SeqliftError, match=message) as caught:
        all_regions(bed)
    assert "\n" not in str(caught.value)


def test_errors_are_raised_only_when_the_bad_line_is_reached(tmp_path):
    lines = [f"chr1\t{i}\t{i + 1}" for i in range(25)] + ["chr1\tx\t5"]
    bed = write(tmp_path / "a.bed", "\n".join(lines) + "\n")
    chunks = read_bed(bed, chunk_size=10)
    assert len(next(chunks)) == 10
    assert len(next(chunks)) == 10
    with pytest.raises(SeqliftError, match=r"a\.bed:26:"):
        next(chunks)


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope.bed"
    with pytest.raises(SeqliftError, match=r"BED file not found: .*nope\.bed"):
        read_bed(missing)


def test_directory_is_an_error(tmp_path):
    with pytest.raises(SeqliftError, match="is a directory"):
        read_bed(tmp_path)


def test_unreadable_file_names_the_path(tmp_path, make_unreadable):
    bed = make_unreadable(write(tmp_path / "secret.bed", "chr1\t1\t2\n"))
    with pytest.raises(SeqliftError, match=r"cannot read BED file .*secret\.bed: permission denied"):
        read_bed(bed)


def test_chunk_size_must_be_positive(tmp_path):
    bed = write(tmp_path / "a.bed", "chr1\t1\t2\n")
    for bad in (0, -3, 2.5, True):
        with pytest.raises(SeqliftError, match="chunk size must be a positive integer"):
            read_bed(bed, chunk_size=bad)


def test_fifty_thousand_lines_stream_in_bounded_chunks(tmp_path):
    path = tmp_path / "big.bed"
    with open(path, "w") as handle:
        handle.write("track name=big\n")
        for i in range(50_000):
            handle.write(f"chr{i % 3}\t{i}\t{i + 100}\tr{i}\n")
    sizes = []
    count = 0
    for chunk in read_bed(path, chunk_size=7_000):
        sizes.append(len(chunk))
        assert 0 < len(chunk) <= 7_000
        assert chunk[0].line == count + 2  # line 1 is the track line
        count += len(chunk)
    assert sizes == [7_000] * 7 + [1_000]
    assert count == 50_000
    assert all_regions(path, chunk_size=7_000) == list(iter_bed(path))


def test_read_bed_is_lazy(tmp_path):
    """Only the chunks asked for are parsed: the reader does not slurp the file."""
    path = tmp_path / "a.bed"
    with open(path, "w") as handle:
        for i in range(1000):
            handle.write(f"chr1\t{i}\t{i + 1}\n")
        handle.write("broken line\n")
    chunks = read_bed(path, chunk_size=100)
    first = next(chunks)
    assert [r.start for r in first] == list(range(100))


def test_chunked_helper():
    assert list(chunked(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunked([], 3)) == []


@pytest.mark.parametrize(
    "region, width, expected",
    [
        # midpoint of [100, 200) is 150; even width: width // 2 before, the rest from the centre on
        (Region("c", 100, 200), 10, (145, 155)),
        (Region("c", 100, 200), 11, (145, 156)),
        # odd-length region: midpoint rounds down (100 + 201) // 2 = 150
        (Region("c", 100, 201), 10, (145, 155)),
        (Region("c", 100, 201), 1, (150, 151)),
        # summit wins over the midpoint
        (Region("c", 100, 200, summit=10), 10, (105, 115)),
        (Region("c", 100, 200, summit=0), 3, (99, 102)),
        # growing past the chromosome start gives a negative start
        (Region("c", 0, 10), 100, (-45, 55)),
    ],
)
def test_resize_centring_and_rounding(region, width, expected):
    window = resize(region, width)
    assert (window.start, window.end) == expected
    assert window.width == width
    assert window.start + width // 2 == region.centre


def test_resize_keeps_name_strand_line_and_moves_summit():
    region = Region("chr2", 1000, 1200, "p", "-", 37, 12)
    window = resize(region, 50)
    assert (window.chrom, window.name, window.strand, window.line) == ("chr2", "p", "-", 12)
    assert window.summit == 25
    assert window.start + window.summit == region.start + region.summit
    assert resize(Region("c", 0, 10), 4).summit is None


@pytest.mark.parametrize("width", [0, -5, 2.0, "100", True])
def test_resize_rejects_bad_widths(width):
    with pytest.raises(SeqliftError, match="window width must be a positive integer"):
        resize(Region("c", 0, 10), width)

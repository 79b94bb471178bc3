"""Reading and checking what the user gives (seqlift.inputs): file kinds by content, counts, task lists."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from seqlift.errors import SeqliftError
from seqlift.inputs import check_positive_int, input_kind, is_gzip, open_text, parse_tasks

FASTA = b"\n>seq1 first\nACGT\n>seq2\nTTGA\n"
BED = b"track name=peaks\nchr1\t10\t20\tpeak\n"


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("peaks.fa", BED, "bed"),  # the name says FASTA, the content BED
        ("sequences.bed", FASTA, "fasta"),  # and the other way round
        ("sequences.txt", FASTA, "fasta"),
        ("regions", BED, "bed"),
        ("sequences.fa.gz", gzip.compress(FASTA), "fasta"),
        ("peaks.bed.gz", gzip.compress(BED), "bed"),
        ("damaged.gz", gzip.compress(FASTA)[:12], "bed"),  # for the BED reader to report with a line number
        ("empty.txt", b"", "bed"),
    ],
    ids=lambda value: value if isinstance(value, str) else "content",  # gzip bytes hold a time stamp: not in ids
)
def test_input_kind_is_told_by_content_not_name(tmp_path, name, content, kind):
    path = tmp_path / name
    path.write_bytes(content)
    assert input_kind(path) == kind


def test_gzip_is_sniffed_and_opened_by_content(tmp_path):
    plain, packed = tmp_path / "a.gz", tmp_path / "b.txt"
    plain.write_bytes(BED)
    packed.write_bytes(gzip.compress(BED))
    assert not is_gzip(plain, "BED") and is_gzip(packed, "BED")
    for path in (plain, packed):
        with open_text(path, is_gzip(path, "BED")) as handle:
            assert handle.read() == BED.decode()


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(SeqliftError, match=r"regions file not found: .*nothing\.bed"):
        input_kind(tmp_path / "nothing.bed")


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2)])
def test_positive_integers_are_accepted_as_int(value):
    checked = check_positive_int(value, "count")
    assert checked == int(value) and type(checked) is int


@pytest.mark.parametrize("value", [0, -2, 2.0, "3", True, np.bool_(True), None])
def test_anything_else_is_not_a_positive_integer(value):
    with pytest.raises(SeqliftError, match=r"count must be a positive integer, got"):
        check_positive_int(value, "count")


@pytest.mark.parametrize(
    ("given", "tasks"),
    [("all", "all"), (" ALL ", "all"), ("0,2", [0, 2]), ("2, 0", [2, 0]), (1, [1]), (np.int64(1), [1]),
     ([3, 1], [3, 1]), ("5", [5])],
)
def test_task_lists(given, tasks):
    assert parse_tasks(given) == tasks


@pytest.mark.parametrize(
    ("given", "message"),
    [("0,x", r"--task '0,x' is not 'all' or a comma-separated list"), ("", "is not 'all'"),
     ("-1", "task indices are 0 or more"), ([], "task indices are 0 or more"), ("1,1", "names a task twice")],
)
def test_bad_task_lists_name_the_option(given, message):
    with pytest.raises(SeqliftError, match=message):
        parse_tasks(given)


def test_all_can_be_refused():
    with pytest.raises(SeqliftError, match=r"--tasks 'all' is not a comma-separated list"):
        parse_tasks("all", "--tasks", allow_all=False)

"""Contribution logos (seqlift.plots.logo) and the ``seqlift logo`` command."""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.patches import PathPatch, Rectangle

from seqlift import cli
from seqlift.errors import SeqliftError
from seqlift.plots import scored_regions
from seqlift.plots.logo import (
    BASE_COLOURS,
    Box,
    box_colour,
    draw_logo,
    draw_track,
    on_sequence,
    region_figure,
    save_figure,
    values_frame,
)
from seqlift.scoring.store import DROPPED_FIELDS, ScoreStore


def _axes() -> matplotlib.axes.Axes:
    return Figure(figsize=(6, 2)).add_subplot()


def _glyphs(ax) -> list[tuple[str, float, float, float, float]]:
    """(colour, x0, x1, y0, y1) of every letter drawn with a non-zero height (data coordinates)."""
    out = []
    for patch in ax.patches:
        if not isinstance(patch, PathPatch):
            continue
        box = patch.get_path().get_extents()
        if box.height > 1e-9:
            out.append((to_hex(patch.get_facecolor()), box.x0, box.x1, box.y0, box.y1))
    return out


# ------------------------------------------------------------------ drawing
def test_colours_are_the_dna_convention():
    assert {b: to_hex(c) for b, c in BASE_COLOURS.items()} == {
        "A": "#109648", "C": "#255c99", "G": "#f7a41d", "T": "#d62839"}
    red, green = matplotlib.colors.to_rgb(BASE_COLOURS["T"]), matplotlib.colors.to_rgb(BASE_COLOURS["A"])
    assert red[0] > max(red[1:]) and green[1] > max(green[0], green[2])  # T red, A green


def test_values_frame_columns_and_positions():
    frame = values_frame(np.arange(12.0).reshape(3, 4), start=100)
    assert list(frame.columns) == ["A", "C", "G", "T"]
    assert list(frame.index) == [100, 101, 102]
    assert frame.loc[101, "G"] == 6.0
    with pytest.raises(SeqliftError, match=r"\(L, 4\)"):
        values_frame(np.zeros((3, 5)))


def test_positive_letters_above_negative_below_in_their_colours():
    values = np.zeros((6, 4))
    values[1, 0] = 1.0    # A +1 at position 11
    values[3, 3] = -0.5   # T -0.5 at position 13
    values[4, 1] = 0.25   # C +0.25 and G -0.75 at position 14
    values[4, 2] = -0.75
    ax = _axes()
    draw_logo(values, ax=ax, start=10)
    glyphs = sorted(_glyphs(ax), key=lambda g: (g[1], g[3]))
    assert len(glyphs) == 4
    by_colour = {g[0]: g for g in glyphs}
    a = by_colour[to_hex(BASE_COLOURS["A"])]
    t = by_colour[to_hex(BASE_COLOURS["T"])]
    c = by_colour[to_hex(BASE_COLOURS["C"])]
    g = by_colour[to_hex(BASE_COLOURS["G"])]
    assert 10.5 < (a[1] + a[2]) / 2 < 11.5 and a[3] == pytest.approx(0, abs=0.02) and a[4] == pytest.approx(1, abs=0.02)
    assert 12.5 < (t[1] + t[2]) / 2 < 13.5 and t[4] == pytest.approx(0, abs=0.02) and t[3] == pytest.approx(-0.5, abs=0.02)
    assert c[3] >= -0.02 and g[4] <= 0.02 and g[3] == pytest.approx(-0.75, abs=0.02)
    low, high = ax.get_ylim()
    assert low < -0.75 and high > 1.0


def test_zoom_limits_the_positions_shown():
    values = np.ones((50, 4)) * 0.1
    ax = _axes()
    draw_logo(values, ax=ax, start=1000, zoom=(1010, 1030))
    assert ax.get_xlim() == (1009.5, 1029.5)
    xs = {round((g[1] + g[2]) / 2) for g in _glyphs(ax)}
    assert xs == set(range(1010, 1030))
    for bad in [(990, 1010), (1040, 1060), (1020, 1020)]:
        with pytest.raises(SeqliftError):
            draw_logo(values, ax=_axes(), start=1000, zoom=bad)


def test_boxes_drawn_clipped_to_the_window_and_skipped_outside():
    values = np.zeros((40, 4))
    values[:, 0] = 0.2
    ax = _axes()
    draw_logo(values, ax=ax, start=0, zoom=(10, 30),
              boxes=[Box(5, 15, "left"), Box(20, 25, "inside", colour="#123456"), Box(35, 38, "outside")])
    rects = [p for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()]
    spans = sorted((r.get_x() + 0.5, r.get_x() + 0.5 + r.get_width()) for r in rects)
    assert spans == [(10, 15), (20, 25)]
    assert to_hex([r for r in rects if r.get_x() == 19.5][0].get_edgecolor()) == "#123456"
    texts = {t.get_text() for t in ax.texts}
    assert texts == {"left", "inside"}


def test_box_colour_is_fixed_per_label():
    assert box_colour("GATA1") == box_colour("GATA1")
    assert len({box_colour(name) for name in ["Gata1", "TAL1::TCF3"]}) == 2
    assert all(box_colour(name).lower() not in {c.lower() for c in BASE_COLOURS.values()} for name in "abcdefgh")


def test_track_sums_bases_and_leaves_gaps():
    values = np.zeros((10, 4))
    values[2] = [0.1, 0.2, 0.3, -0.1]
    values[5:7] = np.nan
    ax = _axes()
    draw_track(values, ax=ax, start=100, highlight=(102, 104))
    heights = {round(p.get_x() + p.get_width() / 2): p.get_height() for p in ax.patches
               if isinstance(p, Rectangle) and p.get_fill() and p.get_width() == 1.0}
    assert heights[102] == pytest.approx(0.5)
    assert heights[105] == 0.0 and heights[106] == 0.0
    with pytest.raises(SeqliftError):
        draw_track(np.zeros((3, 3)))


def test_region_figure_panels():
    x = np.eye(4)[np.arange(60) % 4]
    hyp = np.full((60, 4), 0.05)
    assert len(region_figure(x * 0.3).axes) == 1
    assert len(region_figure(x * 0.3, hyp).axes) == 2
    zoomed = region_figure(x * 0.3, hyp, start=500, zoom=(520, 540), title="t")
    assert len(zoomed.axes) == 3
    assert zoomed.axes[0].get_xlim() == (499.5, 559.5)  # overview: the whole region
    assert zoomed.axes[1].get_xlim() == (519.5, 539.5)
    assert len(region_figure(x * 0.3, hyp, start=500, zoom=(520, 540), overview=False).axes) == 2
    with pytest.raises(SeqliftError, match="differ in shape"):
        region_figure(x, hyp[:10])


def test_on_sequence_puts_the_position_sum_on_the_base_present():
    contributions = np.array([[0.5, -0.1, 0.0, -0.2], [0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 0.0, 0.0]])
    onehot = np.array([[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]])  # A, T, N
    np.testing.assert_allclose(on_sequence(contributions, onehot),
                               [[0.2, 0, 0, 0], [0, 0, 0, 0.4], [0, 0, 0, 0]])
    with pytest.raises(SeqliftError, match="same shape"):
        on_sequence(contributions, onehot[:2])


def test_region_figure_with_sequence_draws_one_letter_per_position():
    rng = np.random.default_rng(0)
    onehot = np.eye(4)[rng.integers(0, 4, 30)]
    contributions = rng.normal(size=(30, 4))  # non-zero at absent bases too, as DeepLIFT's per-channel scores
    fig = region_figure(contributions, onehot=onehot)
    glyphs = _glyphs(fig.axes[0])
    assert len(glyphs) == 30
    sums = contributions.sum(axis=1)
    for colour, x0, x1, y0, y1 in glyphs:
        position = round((x0 + x1) / 2)
        assert colour == to_hex(BASE_COLOURS["ACGT"[int(onehot[position].argmax())]])
        assert (y1 - y0) == pytest.approx(abs(sums[position]), abs=0.02)


@pytest.mark.parametrize("suffix,magic", [("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml"),
                                          ("jpg", b"\xff\xd8\xff"), ("tif", b"II*\x00")])
def test_save_figure_formats(tmp_path, suffix, magic):
    fig = region_figure(np.eye(4)[np.arange(20) % 4] * 0.5)
    path = save_figure(fig, tmp_path / "sub" / f"logo.{suffix}")
    with open(path, "rb") as handle:
        assert handle.read(5).startswith(magic)
    assert sorted(os.listdir(tmp_path / "sub")) == [f"logo.{suffix}"]  # no temporary file left


def test_save_figure_refuses_unknown_format(tmp_path):
    with pytest.raises(SeqliftError, match="format"):
        save_figure(region_figure(np.ones((5, 4))), tmp_path / "logo.bmp")


def test_parse_zoom():
    assert scored_regions.parse_zoom("10:50", "chr1", 1000, 200) == (1010, 1050)
    assert scored_regions.parse_zoom("chr1:1,020-1,100", "chr1", 1000, 200) == (1020, 1100)
    assert scored_regions.parse_zoom(None, "chr1", 1000, 200) is None
    for bad in ["10:500", "chr2:1020-1100", "50:10", "middle"]:
        with pytest.raises(SeqliftError):
            scored_regions.parse_zoom(bad, "chr1", 1000, 200)


# ------------------------------------------------------------------ the command
WIDTH = 40


def write_score_file(tmp_path: Path) -> tuple[str, np.ndarray]:
    """A small complete score file: 5 windows, tasks 0 and 2, known target changes; (path, target changes)."""
    rng = np.random.default_rng(3)
    n, tasks = 5, [0, 2]
    onehot = np.eye(4, dtype=np.uint8)[rng.integers(0, 4, (n, WIDTH))]
    hyp = rng.normal(size=(len(tasks), n, WIDTH, 4)).astype(np.float32)
    contrib = hyp * onehot[None]
    sums = contrib.sum(axis=(2, 3))
    deltas = np.full((len(tasks), n), 1e-3, np.float32)
    target = (sums + deltas).astype(np.float32)
    windows = pd.DataFrame({
        "chrom": ["chr1"] * 4 + ["chr2"], "start": [100, 200, 300, 400, 0],
        "end": [100 + WIDTH, 200 + WIDTH, 300 + WIDTH, 400 + WIDTH, WIDTH],
        "name": ["r0", "r1", "dup", "dup", ""], "strand": ["+"] * n, "row": [0, 1, 2, 4, 5], "line": [1, 2, 3, 5, 6],
        "unknown": [0] * n,
    })
    dropped = pd.DataFrame({name: pd.Series(dtype=object) for name in DROPPED_FIELDS})
    path = str(tmp_path / "scores.h5")
    store = ScoreStore.create(path, {"seed": 0}, tasks, WIDTH, {"chr1": 1000, "chr2": 500}, {}, (0, 6), 6)
    store.append(onehot, contrib, hyp, deltas, target, windows, dropped, rows=(0, 6))
    store.mark_complete()
    store.close()
    return path, target


@pytest.fixture()
def score_file(tmp_path):
    return write_score_file(tmp_path)


def test_logo_top_regions_per_task(score_file, tmp_path):
    path, target = score_file
    out = tmp_path / "logos"
    assert cli.main(["logo", path, "--top", "2", "--task", "all", "--out", str(out)]) == 0
    index = pd.read_csv(out / "index.tsv", sep="\t", keep_default_na=False)
    assert list(index.columns) == list(scored_regions.INDEX_COLUMNS)
    assert list(index["task"]) == [0, 0, 2, 2] and list(index["rank"]) == [1, 2, 1, 2]
    for t, task in enumerate([0, 2]):
        expected = list(np.argsort(-target[t])[:2])
        assert list(index[index["task"] == task]["row"]) == expected
        got = index[index["task"] == task]["target_delta"].to_numpy()
        np.testing.assert_allclose(got, target[t][expected], rtol=1e-5)
    for name in index["file"]:
        assert (out / name).stat().st_size > 1000
    assert sorted(os.listdir(out)) == sorted(list(index["file"]) + ["index.tsv"])


def test_logo_by_name_and_row_to_one_file(score_file, tmp_path):
    path, _ = score_file
    target = tmp_path / "r1.pdf"
    assert cli.main(["logo", path[:-3], "--region", "r1", "--task", "2", "--out", str(target)]) == 0
    assert target.read_bytes().startswith(b"%PDF")
    assert cli.main(["logo", path, "--row", "4", "--zoom", "5:25", "--out", str(tmp_path / "row4.png")]) == 0
    assert (tmp_path / "row4.png").exists()


@pytest.mark.parametrize("argv,message", [
    (["--region", "nope"], "no region named 'nope'"),
    (["--region", "dup"], "2 regions are named 'dup'"),
    (["--row", "9"], "rows 0 to 4"),
    (["--top", "2"], "names one file"),
    (["--region", "r0", "--task", "1"], "holds tasks 0, 2"),
    (["--region", "r0", "--zoom", "30:60"], "within the window"),
    ([], "pick regions"),
])
def test_logo_one_line_errors(score_file, tmp_path, capsys, argv, message):
    path, _ = score_file
    assert cli.main(["logo", path, *argv, "--out", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err
    assert message in err and err.startswith("seqlift logo: error:") and err.count("\n") == 1
    assert not (tmp_path / "x.png").exists()


def test_logo_boxes_from_instances_and_bed(score_file, tmp_path, monkeypatch):
    path, _ = score_file
    (tmp_path / "inst.tsv").write_text("name\tmotif\tstart\tend\nr1\tGATA\t5\t15\nr0\tTAL1\t1\t4\n")
    (tmp_path / "boxes.bed").write_text("chr1\t230\t236\tpeak\nchr1\t900\t950\tfar\nchr2\t230\t236\tother\n")
    seen = {}
    import seqlift.plots.logo

    real = seqlift.plots.logo.region_figure

    def spy(*args, **kwargs):
        seen["boxes"] = kwargs["boxes"]
        seen["start"] = kwargs["start"]
        seen["onehot"] = kwargs["onehot"]
        return real(*args, **kwargs)

    monkeypatch.setattr(seqlift.plots.logo, "region_figure", spy)
    argv = ["logo", path, "--region", "r1", "--instances", str(tmp_path / "inst.tsv"),
            "--boxes", str(tmp_path / "boxes.bed"), "--out", str(tmp_path / "r1.svg")]
    assert cli.main(argv) == 0
    assert seen["start"] == 200
    assert seen["boxes"] == [Box(205, 215, "GATA"), Box(230, 236, "peak")]
    assert seen["onehot"].shape == (WIDTH, 4) and (seen["onehot"].sum(axis=1) == 1).all()  # letters on the sequence

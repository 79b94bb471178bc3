"""Benchmark suites run by ``seqlift bench``.

Each suite is a module exposing ``run(quick: bool) -> None``, which measures
and prints its own table; :data:`seqlift.commands.bench_cmd.SUITES` lists them
by name. ``quick=True`` asks for a smaller, faster measurement.
"""

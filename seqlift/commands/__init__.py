"""Subcommands of the ``seqlift`` command line, one module each."""

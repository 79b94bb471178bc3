"""Independent implementations used as test oracles (run as subprocesses)."""

"""``seqlift score`` and ``seqlift merge``: streaming, resumable scoring runs and their files."""

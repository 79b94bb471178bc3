"""Regions of a genome: BED reading and resizing, FASTA access, and the stream of one-hot windows."""

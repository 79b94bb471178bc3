"""DNA sequences as arrays: one-hot encoding, dinucleotide shuffles and the references DeepLIFT compares with."""

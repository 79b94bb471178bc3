"""The TAL1/GATA1 ground truth of the DeepLIFT paper: motifs, simulation, the model, motif scanning, the report, Figure 5."""

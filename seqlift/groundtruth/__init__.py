"""The TAL1/GATA1 ground truth of the DeepLIFT paper: simulation, training, reports, Figure 5."""

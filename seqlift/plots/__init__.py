"""Figures of contribution scores."""

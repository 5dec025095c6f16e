"""Matplotlib figures for reports and the command line (written as PNG files)."""

from latentinfer.plots.hgf import plot_surprise, plot_trajectories
from latentinfer.plots.latents import plot_kl_per_dim, plot_traversal

__all__ = ["plot_kl_per_dim", "plot_surprise", "plot_trajectories", "plot_traversal"]

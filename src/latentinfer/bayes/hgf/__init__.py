"""Hierarchical Gaussian filters: networks of belief nodes, filtered, fitted and sampled.

``Network`` builds a network node by node (pyhgf's ``add_nodes``); ``HGF`` gives the
ready-made continuous and binary HGFs under pyhgf's names. ``filter`` runs many series or
many parameter settings at once, on a native kernel generated per network (or eager
PyTorch), and returns a ``FilterResult``. The native filter recycles the memory of
returned beliefs once they are dropped; ``release_buffers`` hands it back.
"""

from latentinfer.bayes.hgf.buffers import release_buffers
from latentinfer.bayes.hgf.model import HGF
from latentinfer.bayes.hgf.network import Network, Structure
from latentinfer.bayes.hgf.results import FilterResult

__all__ = ["HGF", "FilterResult", "Network", "Structure", "release_buffers"]

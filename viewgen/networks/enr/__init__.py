"""Equivariant Neural Rendering (Dupont et al., ICML 2020): Apple's model, module for module."""

from viewgen.networks.enr.blocks import FoldedConvs, ResidualBlock, StageNet, group_count, parse_stage
from viewgen.networks.enr.embedded import embedded_weights_folder
from viewgen.networks.enr.model import ENRConfig, EquivariantRenderer, spherical_mask, transposed_stages

__all__ = ["ENRConfig", "EquivariantRenderer", "FoldedConvs", "ResidualBlock", "StageNet", "embedded_weights_folder",
           "group_count", "parse_stage", "spherical_mask", "transposed_stages"]

"""Procedural primitives (value noise, octaves) shared by the synthetic world and the refiners."""

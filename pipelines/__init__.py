"""Dagster wiring only: assets, checks, partitions, resources, definitions."""

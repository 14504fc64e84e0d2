"""Dagster wiring only: assets, checks, partitions, resources, definitions."""

import warnings

import dagster as dg

# partitioned asset checks and code references are Dagster preview/beta features, used knowingly:
# their warnings would otherwise open every command's output
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
warnings.filterwarnings("ignore", category=dg.BetaWarning)

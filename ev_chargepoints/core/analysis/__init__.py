"""Analysis on canonical tables: utilisation, quality, areas, summaries, siting, reconciliation."""

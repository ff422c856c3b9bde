"""Processing front door: every analysis as an algorithm (models, batch, qgis_process)."""

"""QGIS adapters: thin code that connects the pure core to the QGIS API."""

"""ev_chargepoints: London EV charge points in QGIS.

Four floors, every import pointing down: ``core`` (pure Python), then the
``qgis`` adapters and the CLI, then ``processing``, then ``gui``.
"""

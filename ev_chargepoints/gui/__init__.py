"""GUI front door: plugin wiring, docks, map tools, dialogs."""

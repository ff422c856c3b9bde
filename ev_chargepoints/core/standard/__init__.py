"""The data standard: validation and the per-operator conformance report."""

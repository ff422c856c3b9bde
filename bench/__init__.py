"""Benchmarks: the plugin's way against its peer's way, on the same data, in one run.

``python -m bench [--quick] [--only NAMES] [--out bench/results]`` runs each
benchmark in its own subprocess (:mod:`bench.worker`, so peak memory is per
benchmark and QGIS starts fresh), prints a Markdown table and writes
``latest.json``; a full run without ``--only`` also writes
``docs/performance.md``. The single-purpose scripts (``bench_summary.py``,
``bench_sites.py``, ``bench_utilisation.py``, ``bench_store.py``) still run alone.
"""

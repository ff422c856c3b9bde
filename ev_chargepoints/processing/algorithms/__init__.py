"""One module per theme. ``available_algorithms`` lists those whose Python
dependencies are installed, so the provider registers only what works."""

from __future__ import annotations

from ...core.optional import missing_packages


def available_algorithms() -> list:
    if missing_packages():
        return []
    from .data_algorithms import (
        FetchDatastoreAlgorithm,
        FetchOcpiAlgorithm,
        ImportFilesAlgorithm,
        UtilisationAlgorithm,
    )
    from .demand_algorithm import WardDemandAlgorithm
    from .export_algorithm import ExportCommitteeMapAlgorithm
    from .sites_algorithms import AnalyseSitesAlgorithm, SuggestSitesAlgorithm
    from .summary_algorithm import SummariseByAreaAlgorithm
    from .validate_algorithm import ValidateAlgorithm
    return [ImportFilesAlgorithm, FetchDatastoreAlgorithm, FetchOcpiAlgorithm,
            UtilisationAlgorithm, SummariseByAreaAlgorithm, AnalyseSitesAlgorithm,
            SuggestSitesAlgorithm, ExportCommitteeMapAlgorithm, ValidateAlgorithm,
            WardDemandAlgorithm]

"""The :class:`~ev_chargepoints.core.workspace.Workspace` methods for candidate sites
(the one facade the CLI, Processing and the dock call): an analyser on the store's
devices, usage, the London population grid, an optional street network and ward demand."""

from __future__ import annotations

from typing import Optional

import pandas as pd

from ...errors import EvChargepointsError
from ...progress import SILENT, Progress
from .sites import located_devices


class SiteAnalysis:
    """Mixed into the Workspace: uses its devices(), assignment(), utilisation(),
    default_period(), store and site_demand() (:class:`~..demand.WardDemand`)."""

    def site_analyser(self, distances=(400.0,), weights=None, period: Optional[str] = None,
                      period_kind: str = "quarter", with_usage: bool = True,
                      progress: Progress = SILENT, network=None, walk_m=400.0, scenario=None):
        """An empty :class:`~.analyser.IncrementalSiteAnalyser`: this store's devices, usage
        (``period``, default :meth:`default_period`), the London population grid, walks of
        ``walk_m`` on a ``network``, ward demand under ``scenario`` (:meth:`site_demand`)."""
        from .analyser import IncrementalSiteAnalyser, walking_catchment
        from .population import london_population_grid
        progress.report(2, "Reading devices")
        devices = self._located_devices()
        usage = None
        if with_usage and self.store.counts().get("sessions", 0):
            usage = self.utilisation(period_kind, progress=progress.scaled(5, 60))
            if period is None and len(usage):
                period = self.default_period(period_kind)
        progress.report(62, "Spreading ward populations on a grid")
        population = london_population_grid(2018)
        try:
            return IncrementalSiteAnalyser(devices, usage, population, distances, weights,
                                           period=period, progress=progress.scaled(65, 100),
                                           walking=walking_catchment(network, walk_m),
                                           demand=self.site_demand(scenario, weights))
        except ValueError as exc:
            raise EvChargepointsError(str(exc)) from None

    def analyse_sites(self, sites, distances=(400.0,), weights=None,
                      period: Optional[str] = None, period_kind: str = "quarter",
                      progress: Progress = SILENT, network=None, walk_m=400.0, scenario=None):
        """One row per site and distance (see :func:`~.analyser.definitions`)."""
        from .sites import as_sites
        analyser = self.site_analyser(distances, weights, period, period_kind,
                                      progress=progress.scaled(0, 70), network=network,
                                      walk_m=walk_m, scenario=scenario)
        try:
            analyser.add_sites(as_sites(sites), progress.scaled(70, 100))
        except ValueError as exc:
            raise EvChargepointsError(str(exc)) from None
        return analyser.table()

    def suggest_sites(self, candidates, k: int, distance: float = 400.0,
                      progress: Progress = SILENT) -> pd.DataFrame:
        """Greedy picks among ``candidates`` with their gains (:func:`~.suggest.suggest_sites`)."""
        from .population import london_population_grid
        from .suggest import suggest_sites

        devices = self._located_devices()
        try:
            return suggest_sites(candidates, devices, london_population_grid(2018), k, distance,
                                 progress=progress)
        except ValueError as exc:
            raise EvChargepointsError(str(exc)) from None

    def _located_devices(self) -> pd.DataFrame:
        """Current devices with EPSG:27700 ``x``/``y`` from the assignment."""
        if not len(self.devices()):
            raise EvChargepointsError("The store has no charge devices; import or fetch first.")
        return located_devices(self.devices(), self.assignment().table)

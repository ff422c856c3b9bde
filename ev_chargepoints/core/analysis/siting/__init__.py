"""Candidate-site buffer analysis: what a proposed charge point would reach.

A planner proposes sites; for each site and each catchment distance this module
reports the existing devices within reach (by power class and operator), how
busy they are, the nearest existing device, the residents within reach, how
many of them an existing device already reaches, and how many the site would
newly cover, then scores and ranks the sites. :func:`suggest_sites` picks sites
from a list of candidates by greedy maximal coverage with the existing devices
fixed. All work is in EPSG:27700 (metres).

Modules: :mod:`.population` (the population grid), :mod:`.catchment` (what a site
reaches), :mod:`.sites` (tables of candidate sites), :mod:`.analyser` (the figures,
score and rank: :func:`~.analyser.analyse_sites`) and :mod:`.suggest`
(:func:`~.suggest.suggest_sites`).

Catchments. "Within reach" is decided by a :class:`Catchment`:
:class:`RadiusCatchment` (straight line, a circular buffer) for every distance, and
optionally :class:`~.walking.WalkingCatchment` (on foot along a
:class:`~.network.StreetNetwork`, :mod:`.network` and :mod:`.walking`), whose devices
and residents within the walk distance are reported beside the straight-line figures
(``devices_within_walk``, ``residents_within_walk``; the analyser's ``walking``). A
catchment implements the same methods (prepare device locations, device pairs with
distances, nearest device, population cells reached and, optionally for speed, how
many sources reach each cell); ``catchment_factory`` (called with each distance in
metres) replaces the straight line for every distance.

Population. :class:`PopulationGrid` spreads each ward's residents evenly over
its area on a regular grid of square cells, area-weighted where a ward
boundary crosses a cell. A catchment reaches a cell when it reaches the
cell's centre, so all of the cell's residents count or none do. Two errors
follow, both documented on the class: residents are assumed evenly spread
within each ward (the dominant one, unknowable from ward totals), and the
lattice of cell centres approximates the catchment's area.

Coverage. With existing devices fixed, a resident (a grid cell) is *already
covered* at distance d when some existing device reaches it within d. A site's
*new coverage* is the residents it reaches that no existing device reaches;
its *unique new coverage* is the part of that no other site of the same set
reaches either. New coverage of overlapping sites double-counts the overlap;
unique coverage never does, and is what a site adds if the others are built
anyway.
"""

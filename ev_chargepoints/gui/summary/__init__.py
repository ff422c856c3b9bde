"""The "Area summary" dock (:class:`.dock.AreaSummaryDock`) and its parts.

``worker`` prepares and computes summaries in tasks; ``table_model`` and
``trend_chart`` show them; ``map_link`` selects on the map's layers both ways;
``state`` keeps what the dock shows (also in the project); ``export`` writes it;
``demand_tab`` is the second tab, demand per ward under a scenario.
"""

from ..slots import guarded_slot

#: the guard of every slot of the dock and its parts
summary_slot = guarded_slot("Area summary: {slot} failed")

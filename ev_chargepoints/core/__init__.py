"""Pure-Python core of ev_chargepoints: no qgis or PyQt imports anywhere below."""

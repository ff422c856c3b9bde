"""The history store: interface, address, the GeoPackage and the shared PostGIS backends."""

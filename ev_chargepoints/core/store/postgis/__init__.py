"""The shared history store on PostgreSQL/PostGIS: schema, roles, server-side analysis."""

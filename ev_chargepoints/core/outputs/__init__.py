"""What leaves the plugin: map tables, committee data, disclosure, tables, styling."""

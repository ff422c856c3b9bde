"""Where data comes from: Datastore and OCPI clients, HTTP, the download cache, parsers."""

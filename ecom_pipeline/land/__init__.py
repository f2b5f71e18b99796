"""Landing: the API's records, sanitized, into the raw zone (streamed parts, a manifest per resource and date)."""

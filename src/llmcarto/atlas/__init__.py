"""The atlas: a read-only, server-rendered web app over the published store copy."""

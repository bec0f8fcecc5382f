"""api: the REST surface at /api/ (a plain package, not an app: no models, no ready(), no templates).

One router and the schema (urls), the one exception handler (exceptions) and the
bounded JSON parser (parsers) that every app's endpoints share; the endpoints of
personas, conversations and lorebooks, which have no DRF layer of their own.
evolve and memory keep theirs under ``<app>/api/`` and are mounted here.
"""

"""runtime: how the processes start and keep their work moving (a Django app without models).

``manage.py serve`` (the embedded default in one command), ``manage.py sweep_jobs``
and the sweeper (sweeper: one pass runs rendering's and chat's own recovery
services; dramatiq.Sweeper runs it from a thread in every worker), var/
preparation (files) and Redis clients that retry after a restart (redis_retry).
"""

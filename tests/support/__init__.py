"""Harnesses for tests and benches, never imported by the app.

- ``topology``: the production process shape on one machine (2 Daphne + 2
  Dramatiq workers, PostgreSQL, a private redis-server); run it by hand with
  ``python -m tests.support.run_topology``.
- ``wsclient``: a websocket chat client speaking the public protocol.
- ``scripted``: the paced scripted chat backend the topology's processes load.
"""

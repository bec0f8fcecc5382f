"""Operations: health probes, metrics and structured logging.

Nothing here holds business logic of the chat or rendering; it observes them
(signals, ASGI wrappers) and reports.
"""

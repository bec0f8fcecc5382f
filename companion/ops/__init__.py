"""Operations: health checks, metrics, structured logging, the job sweeper and privacy services.

Nothing here holds business logic of the chat or rendering; it observes them
(signals, ASGI wrappers) and calls their services.
"""

"""Request id middleware: X-Request-ID in (when sane) or a fresh id, echoed on the response and in every log line."""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

from companion.core import context

HEADER = "X-Request-ID"


class RequestIdMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self._acall(request)
        rid = context.new_request_id(request.headers.get(HEADER))
        request.request_id = rid
        with context.bound(request_id=rid):
            response = self.get_response(request)
        response[HEADER] = rid
        return response

    async def _acall(self, request):
        rid = context.new_request_id(request.headers.get(HEADER))
        request.request_id = rid
        with context.bound(request_id=rid):
            response = await self.get_response(request)
        response[HEADER] = rid
        return response

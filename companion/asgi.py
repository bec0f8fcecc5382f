"""ASGI entry point: HTTP through Django, websockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
django_asgi_app = get_asgi_application()  # must run before importing consumers

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from companion.chat.frame_limit import FrameSizeLimitMiddleware  # noqa: E402
from companion.memory.embeddings import load_in_background  # noqa: E402
from companion.ops.metrics import WebsocketMetricsMiddleware  # noqa: E402
from companion.ops.middleware import WebsocketLogContextMiddleware  # noqa: E402
from companion.routing import websocket_urlpatterns  # noqa: E402
from companion.web.origin import SameOriginValidator  # noqa: E402
from companion.web.proxies import TrustedProxyMiddleware  # noqa: E402

# A web process serves replies whose prompt recalls memories: start loading the embedder now.
if settings.MEMORY_PRELOAD_EMBEDDER:
    load_in_background()

# TrustedProxyMiddleware (outermost, both protocols): the client address and scheme, from forwarded
# headers only when the peer is one of TRUSTED_PROXIES (companion.web.proxies). WebsocketMetricsMiddleware
# counts accepted, still-open sockets for /metrics; WebsocketLogContextMiddleware binds the conversation id
# to every log line of the socket; FrameSizeLimitMiddleware answers oversized frames with an error frame
# before any parsing (companion.chat.frame_limit). SameOriginValidator: the handshake's Origin must match
# the socket's scheme, host and port, or be one of CSRF_TRUSTED_ORIGINS (companion.web.origin).
application = ProtocolTypeRouter(
    {
        "http": TrustedProxyMiddleware(django_asgi_app),
        "websocket": TrustedProxyMiddleware(
            WebsocketMetricsMiddleware(
                WebsocketLogContextMiddleware(
                    FrameSizeLimitMiddleware(SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))))
                )
            )
        ),
    }
)

from django.apps import AppConfig


class WebConfig(AppConfig):
    """The pages and the HTTP/websocket edge (see the package docstring); no models."""

    name = "companion.web"
    label = "web"
    verbose_name = "Web pages and edge"

    def ready(self) -> None:
        from companion.web import checks  # noqa: F401  (registers the deploy check)

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "companion.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Metrics observe the other apps through their signals; connecting here
        # means no other app has to know metrics exist.
        from companion.ops import metrics, sessions

        metrics.connect_receivers()
        sessions.connect_receivers()  # logout / password change / deletion close the user's sockets

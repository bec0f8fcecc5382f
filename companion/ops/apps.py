from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "companion.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Metrics observe the other apps through their signals; connecting here
        # means no other app has to know metrics exist.
        from companion.ops import checks, metrics  # noqa: F401  (checks: registers deploy checks)

        metrics.connect_receivers()

from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "companion.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Metrics observe the other apps through their signals; connecting here
        # means no other app has to know metrics exist.
        from companion.ops import checks, metrics, sessions  # noqa: F401  (checks: registers deploy checks)

        metrics.connect_receivers()
        sessions.connect_receivers()  # logout / password change / deletion close the user's sockets

        from companion.core.ratelimit import card_import_gate
        from personas.limits import register_import_gate

        register_import_gate(card_import_gate)  # CARD_IMPORT_RATE_LIMIT per user (the admin's card import)

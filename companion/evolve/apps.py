from django.apps import AppConfig


class EvolveConfig(AppConfig):
    name = "companion.evolve"
    label = "evolve"
    verbose_name = "Evolve (scenes and safety)"

    def ready(self) -> None:
        # Subscribe to rendering's job updates; rendering never imports us.
        from companion.evolve import receivers  # noqa: F401

from django.apps import AppConfig


class RuntimeConfig(AppConfig):
    """serve, sweep_jobs and the sweeper (see the package docstring); no models, no URLs."""

    name = "companion.runtime"
    label = "runtime"
    verbose_name = "Processes"

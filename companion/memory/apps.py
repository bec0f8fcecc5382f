from django.apps import AppConfig


class MemoryConfig(AppConfig):
    name = "companion.memory"
    label = "memory"
    verbose_name = "Memory and relationships"

    def ready(self) -> None:
        # Subscribe to chat's exchange_completed and plug into prompt assembly.
        from companion.memory import prompt_sections, receivers  # noqa: F401

        prompt_sections.register()

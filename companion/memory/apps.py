from django.apps import AppConfig


class MemoryConfig(AppConfig):
    name = "companion.memory"
    label = "memory"
    verbose_name = "Memory and relationships"

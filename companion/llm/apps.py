from django.apps import AppConfig


class LlmConfig(AppConfig):
    """The chat-model backends (embedded llama.cpp, OpenAI-compatible, scripted): no models, no URLs."""

    name = "companion.llm"
    label = "llm"
    verbose_name = "Chat models"

from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "companion.chat"
    label = "chat"
    verbose_name = "Conversations"

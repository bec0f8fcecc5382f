from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "companion.chat"
    label = "chat"
    verbose_name = "Conversations"

    def ready(self) -> None:
        from companion.chat import sessions
        from companion.chat.persona_fit import persona_prompt_fits
        from companion.chat.privacy import chat_privacy_register
        from personas.limits import register_persona_check

        register_persona_check(persona_prompt_fits)  # a persona whose fixed prompt cannot fit is refused
        sessions.connect_receivers()  # logout / password change / deletion close the user's sockets
        chat_privacy_register()  # conversations in the data export and the account deletion

from django.apps import AppConfig


class EvolveConfig(AppConfig):
    name = "companion.evolve"
    label = "evolve"
    verbose_name = "Evolve (scenes and safety)"

    def ready(self) -> None:
        # Subscribe to rendering's job updates; rendering never imports us.
        from companion.chat.frames import register_frame_handler
        from companion.evolve import receivers  # noqa: F401
        from companion.evolve.privacy import evolve_privacy_register
        from companion.evolve.ws import HANDLERS

        for frame_type, handler in HANDLERS.items():  # render.* on the conversation socket
            register_frame_handler(frame_type, handler)
        evolve_privacy_register()  # clips in the data export and the account deletion

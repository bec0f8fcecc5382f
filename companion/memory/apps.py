from django.apps import AppConfig


class MemoryConfig(AppConfig):
    name = "companion.memory"
    label = "memory"
    verbose_name = "Memory and relationships"

    def ready(self) -> None:
        # Subscribe to chat's exchange_completed and plug into prompt assembly.
        from companion.chat.prompt import register_prompt_warmup
        from companion.memory import prompt_sections, receivers, retrieval  # noqa: F401
        from companion.memory.privacy import memory_privacy_register

        prompt_sections.register()
        # The memory section embeds the query (and its parts): done before the build, off the shared DB thread.
        register_prompt_warmup(retrieval.query_warm)
        memory_privacy_register()  # memories, relationships, milestones in the data export and the deletion

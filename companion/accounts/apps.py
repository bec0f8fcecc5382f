from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "companion.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        # Each app adds what it keeps about a user to the export and the account deletion;
        # these are accounts' own (companion.accounts.privacy).
        from companion.accounts.privacy import accounts_privacy_register
        from companion.core.ratelimit import card_import_gate
        from personas.limits import register_import_gate

        accounts_privacy_register()
        register_import_gate(card_import_gate)  # CARD_IMPORT_RATE_LIMIT per user (the admin's card import)

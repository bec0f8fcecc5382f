from django.contrib import admin

from companion.accounts.models import SignupAttestation


@admin.register(SignupAttestation)
class SignupAttestationAdmin(admin.ModelAdmin):
    list_display = ["user", "attested_at", "terms_version"]
    readonly_fields = ["user", "attested_at", "terms_version"]
    search_fields = ["user__username"]

"""The Persona: everything a character creator edits in the admin."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.text import slugify

from .limits import persona_validate


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public (everyone can chat)"
    PRIVATE = "private", "Private (owner only)"


class Provenance(models.TextChoices):
    FICTIONAL = "fictional", "Fictional character"
    CONSENTED_LIKENESS = "consented", "Real person's likeness with recorded consent"


class Persona(models.Model):
    # identity
    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True, blank=True)
    tagline = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="personas"
    )
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)

    # character card fields (Character Card V2/V3 vocabulary)
    description = models.TextField(blank=True, help_text="Backstory and who {{char}} is.")
    personality = models.TextField(blank=True)
    scenario = models.TextField(blank=True)
    greeting = models.TextField(blank=True, help_text="First message of a new conversation.")
    alternate_greetings = models.JSONField(default=list, blank=True)
    example_dialogue = models.TextField(blank=True)
    system_prompt = models.TextField(blank=True)
    post_history_instructions = models.TextField(blank=True)
    creator_notes = models.TextField(blank=True)
    creator = models.CharField(max_length=200, blank=True)
    character_version = models.CharField(max_length=50, blank=True)
    tags = models.JSONField(default=list, blank=True)
    character_book = models.JSONField(null=True, blank=True, help_text="Lorebook, kept verbatim from cards.")
    extensions = models.JSONField(default=dict, blank=True, help_text="Unknown card fields, kept for round trips.")

    # appearance (drives the scene extractor and the renderer)
    appearance = models.TextField(blank=True, help_text="Physical description: face, hair, build, age (adult).")
    wardrobe = models.TextField(blank=True)
    style_tags = models.JSONField(default=list, blank=True, help_text='e.g. ["film grain", "soft light"]')
    portrait = models.ImageField(upload_to="personas/portraits/", blank=True)

    # LLM voice
    temperature = models.FloatField(default=0.8)
    llm_adapter = models.CharField(
        max_length=120, blank=True, help_text="vLLM LoRA module name served with --lora-modules."
    )

    # video identity LoRA
    video_lora = models.FileField(upload_to="personas/loras/", blank=True)
    video_lora_trigger = models.CharField(max_length=200, blank=True)
    video_lora_weight = models.FloatField(default=1.0)
    video_lora_meta = models.JSONField(default=dict, blank=True, editable=False)

    # provenance / consent: a persona is fictional unless consent is recorded
    provenance = models.CharField(max_length=12, choices=Provenance.choices, default=Provenance.FICTIONAL)
    consent_reference = models.CharField(
        max_length=300, blank=True, help_text="Where the signed consent for a real likeness is recorded."
    )
    real_person_name = models.CharField(max_length=200, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        permissions = [
            # Imported personas start private to their importer; making one public (for everyone to chat
            # with) is a review step for staff holding this (superusers hold every permission).
            ("publish_persona", "Can make personas public"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if self.provenance == Provenance.CONSENTED_LIKENESS and not self.consent_reference.strip():
            errors["consent_reference"] = ["A real likeness needs a recorded consent reference."]
        try:
            persona_validate(self)  # sizes, and what other apps check (the prompt fits): personas.limits
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = _unique_slug(self.name)
        super().save(*args, **kwargs)

    @property
    def has_consent_for_likeness(self) -> bool:
        return self.provenance == Provenance.CONSENTED_LIKENESS and bool(self.consent_reference.strip())


def _unique_slug(name: str) -> str:
    base = slugify(name)[:120] or "persona"
    slug, n = base, 2
    while Persona.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug

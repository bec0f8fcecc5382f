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
    # The book's own fields (name, scan_depth, token_budget, recursive_scanning, extensions, unknown ones);
    # its entries are LoreEntry rows (lore_entries). personas.selectors.persona_lorebook joins them.
    character_book = models.JSONField(
        null=True, blank=True, help_text="Lorebook settings from the card (its entries are the lore entries below)."
    )
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


# --- lorebooks -------------------------------------------------------------------------------------


class Lorebook(models.Model):
    """A standalone world book a user owns and attaches to their conversations.

    A persona's own book is its ``character_book`` settings plus its ``lore_entries``
    rows (edited inline on the persona); both kinds read and write the card's
    ``character_book`` shape through personas.lorebook_cards.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lorebooks")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    scan_depth = models.PositiveIntegerField(null=True, blank=True, help_text="Recent messages scanned for keys.")
    token_budget = models.PositiveIntegerField(null=True, blank=True, help_text="Tokens for this book's entries.")
    recursive_scanning = models.BooleanField(default=False, help_text="Entries' text may fire other entries.")
    extensions = models.JSONField(default=dict, blank=True)
    extra = models.JSONField(default=dict, blank=True, editable=False, help_text="Unknown book fields, kept.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class LorePosition(models.TextChoices):
    BEFORE_CHAR = "before_char", "Before the character definition"
    AFTER_CHAR = "after_char", "After the character definition"
    AT_DEPTH = "at_depth", "In the history, at a depth"


class SelectiveLogic(models.IntegerChoices):
    # SillyTavern's extensions.selectiveLogic codes, so cards keep their meaning
    AND_ANY = 0, "AND ANY secondary key"
    NOT_ALL = 1, "NOT ALL secondary keys"
    NOT_ANY = 2, "NOT ANY secondary key"
    AND_ALL = 3, "AND ALL secondary keys"


LORE_ENTRY_MAX_CHARS = 8_000


class LoreEntry(models.Model):
    """One lorebook entry: of a persona's own book, or of a user's world book (exactly one of the two).

    Columns are the Character Card V2/V3 entry fields (and the SillyTavern extensions that
    decide activation); ``raw`` is the entry as a card gave it, so an export writes back
    exactly what came in, plus whatever was edited since.
    """

    persona = models.ForeignKey(Persona, null=True, blank=True, on_delete=models.CASCADE, related_name="lore_entries")
    book = models.ForeignKey(Lorebook, null=True, blank=True, on_delete=models.CASCADE, related_name="entries")
    sort = models.PositiveIntegerField(default=0, help_text="Place in the book (card order).")
    name = models.CharField(max_length=200, blank=True)
    keys = models.JSONField(default=list, blank=True, help_text="Words that fire it; /regex/flags works too.")
    secondary_keys = models.JSONField(default=list, blank=True)
    content = models.TextField(max_length=LORE_ENTRY_MAX_CHARS)
    enabled = models.BooleanField(default=True)
    constant = models.BooleanField(default=False, help_text="Always in the prompt.")
    selective = models.BooleanField(default=False, help_text="Also needs the secondary keys (see logic).")
    selective_logic = models.PositiveSmallIntegerField(choices=SelectiveLogic.choices, default=SelectiveLogic.AND_ANY)
    case_sensitive = models.BooleanField(null=True, blank=True)
    whole_words = models.BooleanField(null=True, blank=True, help_text="Keys match whole words only.")
    use_regex = models.BooleanField(default=False, help_text="Every key is a regular expression (V3).")
    insertion_order = models.IntegerField(default=100, help_text="Lower is inserted higher.")
    priority = models.IntegerField(null=True, blank=True, help_text="Over the token budget, lower goes first.")
    position = models.CharField(max_length=12, choices=LorePosition.choices, default=LorePosition.BEFORE_CHAR)
    depth = models.PositiveIntegerField(null=True, blank=True, help_text="Messages from the end (at depth).")
    comment = models.TextField(blank=True)
    extensions = models.JSONField(default=dict, blank=True, help_text="Other apps' entry settings, kept verbatim.")
    raw = models.JSONField(default=dict, blank=True, editable=False, help_text="The entry as its card gave it.")
    updated_at = models.DateTimeField(auto_now=True)  # with the row count, the version chat.lore caches books by

    class Meta:
        ordering = ["sort", "pk"]
        verbose_name_plural = "lore entries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(persona__isnull=False, book__isnull=True)
                | models.Q(persona__isnull=True, book__isnull=False),
                name="lore_entry_in_one_book",
            )
        ]

    def __str__(self) -> str:
        return self.name or ", ".join(self.keys[:3]) or f"entry {self.pk}"

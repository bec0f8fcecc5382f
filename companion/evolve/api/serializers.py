"""Request bodies of the Evolve REST API (DRF serializers, like every other REST body).

``direction`` and ``beat`` are the same contract objects the websocket's ``render.*``
frames carry (``rendering.beat.RenderDirection``, ``services.BeatEdit``, pydantic models):
``ContractField`` validates them with those models, so their bounds and choices are
written once, and documents them in the OpenAPI schema as the models' own JSON schema
(drf-spectacular's pydantic support registers them as components).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from pydantic import BaseModel, ValidationError
from rest_framework import serializers

from companion.core.errors import validation_detail
from companion.evolve.continues import MAX_DIRECTION
from companion.evolve.services import REEL_MAX_CLIPS, BeatEdit
from rendering.beat import RenderDirection

CLIENT_ID_HELP = "Makes a repeat idempotent: the same request with the same client_id returns the first job."


class ContractField(serializers.Field):
    """A JSON object validated by a pydantic contract model; ``validated_data`` holds the model instance."""

    def __init__(self, model: type[BaseModel], **kwargs: Any) -> None:
        self.model = model
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> BaseModel:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Expected a JSON object.")
        try:
            return self.model.model_validate(data)
        except ValidationError as exc:
            raise serializers.ValidationError(validation_detail(exc, root=self.field_name)) from None

    def to_representation(self, value: BaseModel) -> dict[str, Any]:
        return value.model_dump(mode="json", exclude_none=True)


class ContractFieldSchema(OpenApiSerializerFieldExtension):
    """The schema of a ContractField: its model's JSON schema as a component (nested enums too),
    written the OpenAPI 3.0 way (pydantic's ``anyOf [..., {"type": "null"}]`` becomes ``nullable``)."""

    target_class = ContractField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        model = self.target.model
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub_schema in {**schema.pop("$defs", {}), model.__name__: schema}.items():
            auto_schema.registry.register_on_missing(ResolvedComponent(
                name=name, type=ResolvedComponent.SCHEMA, object=name, schema=_openapi_30(sub_schema),
            ))
        ref = {"$ref": f"#/components/schemas/{model.__name__}"}
        return {"allOf": [ref], "nullable": True} if self.target.allow_null else ref


def _openapi_30(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_openapi_30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _openapi_30(value) for key, value in schema.items()}
    if "$ref" in schema and len(schema) > 1:  # 3.0 ignores a $ref's siblings (a default, a description)
        ref = schema.pop("$ref")
        schema["allOf"] = [{"$ref": ref}]
    options = schema.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [option for option in options if option != {"type": "null"}]
        del schema["anyOf"]
        target = rest[0] if len(rest) == 1 else {"anyOf": rest}
        schema.update({"allOf": [target]} if "$ref" in target else target)
        schema["nullable"] = True
    return schema


def _client_id() -> serializers.CharField:
    return serializers.CharField(max_length=64, required=False, allow_blank=True, default="", help_text=CLIENT_ID_HELP)


class EvolveRequestSerializer(serializers.Serializer):
    """Evolve a persona message into a clip (Remix with ``direction``; ``beat``: the refine dialog's edit)."""

    message_id = serializers.IntegerField(min_value=1, help_text="A finished persona message of yours.")
    direction = ContractField(RenderDirection, required=False, allow_null=True)
    beat = ContractField(BeatEdit, required=False, allow_null=True)
    client_id = _client_id()


class PreviewRequestSerializer(serializers.Serializer):
    """The beat Evolve would render for a message (nothing is queued)."""

    message_id = serializers.IntegerField(min_value=1)
    direction = ContractField(RenderDirection, required=False, allow_null=True)


class ContinueRequestSerializer(serializers.Serializer):
    """The next beat of a finished clip, rendered from its last frame."""

    text = serializers.CharField(max_length=MAX_DIRECTION, required=False, allow_blank=True, default="",
                                 help_text="What happens next; empty: the persona's next message after the clip's.")
    client_id = _client_id()


class ReelRequestSerializer(serializers.Serializer):
    """Finished clips of one conversation, in the order the reel plays them."""

    conversation_id = serializers.IntegerField(min_value=1)
    job_ids = serializers.ListField(child=serializers.CharField(max_length=64), min_length=1,
                                    max_length=REEL_MAX_CLIPS)
    client_id = _client_id()


class JobListQuerySerializer(serializers.Serializer):
    conversation = serializers.IntegerField(min_value=1, help_text="The conversation's id.")
    active = serializers.BooleanField(default=True, help_text="Only queued/running jobs (default true).")

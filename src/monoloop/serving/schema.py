"""JSON Schema of a deployment's predict request and response, from the model signature:
what a client in any language needs to call it, and validate against."""

from __future__ import annotations

from typing import Any

from monoloop.registry.signature import Signature

JSON_SCHEMA = "https://json-schema.org/draft/2020-12/schema"
ROLES = ["primary", "canary"]


def value_schema(kind: str, *, nullable: bool = True) -> dict[str, Any]:
    """A signature type as JSON Schema; numbers and strings may be null (missing)."""
    base: dict[str, Any] = {
        "number": {"type": "number"},
        "integer": {"type": "integer"},
        "boolean": {"type": "boolean"},
        "string": {"type": "string"},
        "datetime": {"type": "string", "format": "date-time"},
    }.get(kind, {})
    if nullable and "type" in base:
        base = {**base, "type": [base["type"], "null"]}
    return base


def input_schema(signature: Signature | None) -> dict[str, Any]:
    """Records (a list of objects) or columns (an object of equally long lists)."""
    if signature is None:
        return {
            "$schema": JSON_SCHEMA,
            "description": "the model has no signature: any records or columns",
            "oneOf": [
                {"type": "array", "items": {"type": "object"}, "minItems": 1},
                {"type": "object", "additionalProperties": {"type": "array"}},
            ],
        }
    names = signature.names
    values = {c.name: value_schema(c.type) for c in signature.inputs}
    return {
        "$schema": JSON_SCHEMA,
        "oneOf": [
            {
                "title": "records",
                "type": "array",
                "minItems": 1,
                "items": {"type": "object", "properties": values, "required": names},
            },
            {
                "title": "columns",
                "type": "object",
                "properties": {
                    name: {"type": "array", "items": schema, "minItems": 1}
                    for name, schema in values.items()
                },
                "required": names,
            },
        ],
    }


def output_schema(signature: Signature | None, *, proba: bool) -> dict[str, Any]:
    prediction = value_schema(signature.output, nullable=False) if signature else {}
    properties: dict[str, Any] = {
        "request_id": {"type": "string"},
        "deployment": {"type": "string"},
        "model": {"type": "string"},
        "version": {"type": "integer", "description": "the model version that answered"},
        "role": {"enum": ROLES},
        "predictions": {"type": "array", "items": prediction},
    }
    required = list(properties)
    if proba:
        classes = list(signature.classes) if signature is not None else []
        row: dict[str, Any] = {"type": "array", "items": {"type": "number"}}
        if classes:
            row.update(minItems=len(classes), maxItems=len(classes))
        properties["probabilities"] = {
            "type": "array",
            "items": row,
            "description": "per row, the probability of each class, in the order of classes",
        }
        properties["classes"] = {"type": "array", "const": classes} if classes else {}
        required += ["probabilities", "classes"]
    return {
        "$schema": JSON_SCHEMA,
        "type": "object",
        "properties": properties,
        "required": required,
    }

"""A small JSON Schema validator for the subset the protocol schema uses.

Written here rather than imported so that `core` stays standard-library only; the
TypeScript page implements the same subset against the same schema file.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

SUPPORTED = {
    "type",
    "required",
    "properties",
    "additionalProperties",
    "enum",
    "const",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "items",
    "minItems",
    "maxItems",
    "oneOf",
    "$ref",
    "description",
    "title",
    "$schema",
    "$id",
    "$defs",
}


class SchemaError(ValueError):
    """The instance does not match; `path` says where."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '(root)'}: {message}")
        self.path = path


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _type_ok(value: Any, expected: str) -> bool:
    if expected == "object":
        return isinstance(value, dict)
    if expected == "array":
        return isinstance(value, list)
    if expected == "string":
        return isinstance(value, str)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "null":
        return value is None
    raise ValueError(f"unsupported type {expected!r}")


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "") -> None:
    unknown = set(schema) - SUPPORTED
    if unknown:
        raise ValueError(f"schema uses unsupported keywords {sorted(unknown)}")
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"unsupported $ref {ref!r}")
        validate(value, root["$defs"][ref[len("#/$defs/") :]], root, path)
    if "oneOf" in schema:
        matches = 0
        errors: list[str] = []
        for sub in schema["oneOf"]:
            try:
                validate(value, sub, root, path)
                matches += 1
            except SchemaError as exc:
                errors.append(str(exc))
        if matches != 1:
            raise SchemaError(
                path,
                "matches none of the allowed forms"
                if not matches
                else "matches more than one form",
            )
    if "type" in schema and not _type_ok(value, schema["type"]):
        raise SchemaError(path, f"must be of type {schema['type']}")
    if "const" in schema and (value != schema["const"] or type(value) is not type(schema["const"])):
        raise SchemaError(path, f"must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError(path, f"must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise SchemaError(path, f"must have at least {schema['minLength']} characters")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise SchemaError(path, f"must have at most {schema['maxLength']} characters")
        if "pattern" in schema and not _compile(schema["pattern"]).search(value):
            raise SchemaError(path, "has the wrong format")
    if _type_ok(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError(path, f"must be at least {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaError(path, f"must be at most {schema['maximum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            raise SchemaError(path, f"must have at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise SchemaError(path, f"must have at most {schema['maxItems']} items")
        if "items" in schema:
            for i, item in enumerate(value):
                validate(item, schema["items"], root, f"{path}[{i}]")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                raise SchemaError(path, f"is missing the field {key!r}")
        props = schema.get("properties", {})
        if schema.get("additionalProperties", True) is False:
            extra = sorted(set(value) - set(props))
            if extra:
                raise SchemaError(path, f"has unexpected field {extra[0]!r}")
        for key, sub in props.items():
            if key in value:
                validate(value[key], sub, root, f"{path}.{key}" if path else key)

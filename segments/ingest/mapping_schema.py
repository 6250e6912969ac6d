"""The JSON Schema of mapping files (warehouse/sources/mapping.schema.json), checked on load.

The schema is generated from the pydantic model (`write_schema`; a test keeps the file in
step), so editors can complete and check a mapping as it is typed. Errors name the key, by
its path in the file, and the values or keys allowed there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from pydantic import BaseModel

SCHEMA_NAME = "mapping.schema.json"


class MappingError(ValueError):
    """A mapping file (or a mapping option) is wrong; the message names the key and the fix."""


def mapping_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The schema of a mapping document, from the model that loads it (SourceMapping)."""
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "segments source mapping"
    return schema


def write_schema(sql_dir: Path, model: type[BaseModel]) -> Path:
    """Regenerate warehouse/sources/mapping.schema.json from the model."""
    path = sql_dir / "sources" / SCHEMA_NAME
    path.write_text(json.dumps(mapping_json_schema(model), indent=2, sort_keys=True) + "\n")
    return path


def _where(error: ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(top level)"


def _allowed(schema: dict[str, Any], root: dict[str, Any]) -> list[str]:
    """Keys or values a schema node allows, following $ref and anyOf."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _allowed(root["$defs"][name], root)
    found: list[str] = []
    if "enum" in schema:
        found += [json.dumps(v) for v in schema["enum"]]
    if "const" in schema:
        found.append(json.dumps(schema["const"]))
    if "properties" in schema:
        found += list(schema["properties"])
    for option in schema.get("anyOf", []) + schema.get("oneOf", []):
        found += _allowed(option, root)
    return list(dict.fromkeys(found))


def describe(error: ValidationError, root: dict[str, Any]) -> str:
    """One readable line for one schema error."""
    where = _where(error)
    if error.validator in ("anyOf", "oneOf"):
        # a section that may also be null: say what is wrong inside the object form
        inner = [e for e in error.context or () if e.validator not in ("type", "const", "enum")]
        if inner:
            return describe(inner[0], root)
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = ", ".join(error.schema.get("properties", {}))
        return f"{where}: unknown key(s) {extra} (allowed: {allowed})"
    if error.validator in ("enum", "const", "anyOf", "oneOf"):
        allowed = _allowed(error.schema, root)
        if allowed:
            return f"{where}: {json.dumps(error.instance)} is not allowed (allowed: {', '.join(allowed)})"
    return f"{where}: {error.message}"


def check_document(document: object, label: str, model: type[BaseModel]) -> None:
    """Raise MappingError listing every schema error of a parsed mapping file."""
    validator = Draft202012Validator(mapping_json_schema(model))
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [describe(e, validator.schema) for e in errors]
        raise MappingError(f"source mapping {label}: " + "; ".join(lines))

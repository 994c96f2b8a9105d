// A small JSON Schema validator for the subset the protocol schema uses; the same subset
// as qrlink_desktop/core/schema.py, against the same file (messages.schema.json).

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Schema = { [key: string]: unknown };

const SUPPORTED = new Set([
  "type", "required", "properties", "additionalProperties", "enum", "const", "pattern",
  "minLength", "maxLength", "minimum", "maximum", "items", "minItems", "maxItems", "oneOf",
  "$ref", "description", "title", "$schema", "$id", "$defs",
]);

export class SchemaError extends Error {
  readonly path: string;
  constructor(path: string, message: string) {
    super(`${path || "(root)"}: ${message}`);
    this.path = path;
  }
}

const patterns = new Map<string, RegExp>();
function compile(pattern: string): RegExp {
  let re = patterns.get(pattern);
  if (re === undefined) {
    re = new RegExp(pattern, "u");
    patterns.set(pattern, re);
  }
  return re;
}

const isObject = (v: unknown): v is { [key: string]: unknown } => typeof v === "object" && v !== null && !Array.isArray(v);

function typeOk(value: unknown, expected: string): boolean {
  switch (expected) {
    case "object": return isObject(value);
    case "array": return Array.isArray(value);
    case "string": return typeof value === "string";
    case "integer": return typeof value === "number" && Number.isInteger(value);
    case "number": return typeof value === "number" && Number.isFinite(value);
    case "boolean": return typeof value === "boolean";
    case "null": return value === null;
    default: throw new Error(`unsupported type ${JSON.stringify(expected)}`);
  }
}

const codePoints = (s: string): number => [...s].length;
const num = (v: unknown): number => v as number;

export function validate(value: unknown, schema: Schema, root: Schema, path = ""): void {
  const unknown = Object.keys(schema).filter((k) => !SUPPORTED.has(k));
  if (unknown.length) throw new Error(`schema uses unsupported keywords ${unknown.sort().join(", ")}`);
  const defs = root["$defs"] as { [key: string]: Schema };
  if ("$ref" in schema) {
    const ref = schema["$ref"] as string;
    if (!ref.startsWith("#/$defs/")) throw new Error(`unsupported $ref ${ref}`);
    const target = defs[ref.slice("#/$defs/".length)];
    if (target === undefined) throw new Error(`unknown $ref ${ref}`);
    validate(value, target, root, path);
  }
  if ("oneOf" in schema) {
    let matches = 0;
    for (const sub of schema["oneOf"] as Schema[]) {
      try {
        validate(value, sub, root, path);
        matches++;
      } catch (exc) {
        if (!(exc instanceof SchemaError)) throw exc;
      }
    }
    if (matches !== 1) throw new SchemaError(path, matches === 0 ? "matches none of the allowed forms" : "matches more than one form");
  }
  if ("type" in schema && !typeOk(value, schema["type"] as string)) throw new SchemaError(path, `must be of type ${schema["type"] as string}`);
  if ("const" in schema && value !== schema["const"]) throw new SchemaError(path, `must be ${JSON.stringify(schema["const"])}`);
  if ("enum" in schema && !(schema["enum"] as unknown[]).includes(value)) {
    throw new SchemaError(path, `must be one of ${(schema["enum"] as unknown[]).map(String).join(", ")}`);
  }
  if (typeof value === "string") {
    if (codePoints(value) < num(schema["minLength"] ?? 0)) throw new SchemaError(path, `must have at least ${num(schema["minLength"])} characters`);
    if ("maxLength" in schema && codePoints(value) > num(schema["maxLength"])) throw new SchemaError(path, `must have at most ${num(schema["maxLength"])} characters`);
    if ("pattern" in schema && !compile(schema["pattern"] as string).test(value)) throw new SchemaError(path, "has the wrong format");
  }
  if (typeOk(value, "number")) {
    if ("minimum" in schema && num(value) < num(schema["minimum"])) throw new SchemaError(path, `must be at least ${num(schema["minimum"])}`);
    if ("maximum" in schema && num(value) > num(schema["maximum"])) throw new SchemaError(path, `must be at most ${num(schema["maximum"])}`);
  }
  if (Array.isArray(value)) {
    if (value.length < num(schema["minItems"] ?? 0)) throw new SchemaError(path, `must have at least ${num(schema["minItems"])} items`);
    if ("maxItems" in schema && value.length > num(schema["maxItems"])) throw new SchemaError(path, `must have at most ${num(schema["maxItems"])} items`);
    if ("items" in schema) value.forEach((item, i) => validate(item, schema["items"] as Schema, root, `${path}[${i}]`));
  }
  if (isObject(value)) {
    for (const key of (schema["required"] as string[] | undefined) ?? []) {
      if (!(key in value)) throw new SchemaError(path, `is missing the field ${JSON.stringify(key)}`);
    }
    const props = (schema["properties"] as { [key: string]: Schema } | undefined) ?? {};
    if (schema["additionalProperties"] === false) {
      const extra = Object.keys(value).filter((k) => !(k in props)).sort();
      if (extra.length) throw new SchemaError(path, `has unexpected field ${JSON.stringify(extra[0])}`);
    }
    for (const [key, sub] of Object.entries(props)) {
      if (key in value) validate(value[key], sub, root, path ? `${path}.${key}` : key);
    }
  }
}

/** Checks a payload against its Kafka Connect schema, as JsonConverter#toConnectData does. */
import { stringifyJson, type ConnectSchema, type JsonValue } from '../../cdc/index.js';

/**
 * True when `value` is what JsonConverter accepts for `schema` (toConnectData): the check a
 * schema-aware sink makes on every record.
 */
export function conforms(schema: ConnectSchema, value: JsonValue): boolean {
  if (value === null) return schema.optional === true;
  switch (schema.type as string) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'int64':
      return typeof value === 'bigint' || (typeof value === 'number' && Number.isInteger(value));
    case 'float':
    case 'double':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'bytes':
      return typeof value === 'string' && /^[A-Za-z0-9+/]*={0,2}$/.test(value);
    case 'array':
      return (
        Array.isArray(value) && value.every((item) => conforms(schema.items as ConnectSchema, item))
      );
    case 'struct': {
      if (typeof value !== 'object' || Array.isArray(value)) return false;
      const fields = schema.fields as ConnectSchema[];
      const object = value as Record<string, JsonValue>;
      return (
        stringifyJson(Object.keys(object)) === stringifyJson(fields.map((f) => f.field)) &&
        fields.every((f) => conforms(f, object[f.field as string] ?? null))
      );
    }
    default:
      return false;
  }
}

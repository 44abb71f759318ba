import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseCdcArgs, sinkKindOf } from '../../cli/commands/cdc.js';
import { parseDemoArgs } from '../../cli/commands/demo.js';
import { parseGatewayArgs } from '../../cli/commands/gateway.js';
import { parseLegacyArgs } from '../../cli/commands/legacy.js';
import { parseReconcileArgs } from '../../cli/commands/reconcile.js';
import { parseServiceArgs } from '../../cli/commands/service.js';

const url = 'postgres://ficus:ficus@127.0.0.1:5432/legacy';
const tempDirs: string[] = [];
afterAll(() => Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true }))));

describe('ficus legacy configuration', () => {
  it('defaults port 3000 and host 127.0.0.1, seeding on', async () => {
    await expect(parseLegacyArgs([], { DATABASE_URL: url })).resolves.toEqual({
      databaseUrl: url,
      port: 3000,
      host: '127.0.0.1',
      seed: true,
      logLevel: 'info',
    });
  });

  it('takes flags over environment over config file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'ficus-config-'));
    tempDirs.push(dir);
    const file = path.join(dir, 'legacy.yaml');
    await writeFile(file, `databaseUrl: ${url}\nport: 4000\nhost: 0.0.0.0\n`);
    const config = await parseLegacyArgs(['--config', file, '--port', '4002', '--no-seed'], {
      FICUS_LEGACY_PORT: '4001',
      FICUS_LEGACY_HOST: '::1',
    });
    expect(config).toMatchObject({ port: 4002, host: '::1', seed: false, databaseUrl: url });
  });

  it.each([
    [[], {}, /^databaseUrl is required: set DATABASE_URL or pass --database-url$/],
    [
      [],
      { DATABASE_URL: 'mysql://x' },
      /databaseUrl \(from environment variable DATABASE_URL\): must be a postgres/,
    ],
    [['--port', 'eighty'], { DATABASE_URL: url }, /port \(from --port\): .*got "eighty"/],
    [
      ['--port', '70000'],
      { DATABASE_URL: url },
      /port \(from --port\): must be a port from 0 to 65535; got "70000"/,
    ],
    [
      [],
      { DATABASE_URL: url, FICUS_LEGACY_SEED: 'maybe' },
      /seed \(from environment variable FICUS_LEGACY_SEED\)/,
    ],
    [['--log-level', 'loud'], { DATABASE_URL: url }, /logLevel \(from --log-level\): .*got "loud"/],
    [
      ['--bogus'],
      { DATABASE_URL: url },
      /ficus legacy: Unknown option '--bogus'\. Run 'ficus legacy --help'/,
    ],
    [['--port'], { DATABASE_URL: url }, /ficus legacy: Option '--port <value>' argument missing/],
  ] as const)('rejects %j with %j', async (argv, env, message) => {
    await expect(parseLegacyArgs(argv, env)).rejects.toThrow(message);
  });

  it('names a config file that is missing or not a mapping', async () => {
    await expect(parseLegacyArgs(['--config', '/nonexistent/legacy.yaml'], {})).rejects.toThrow(
      /cannot read config file \/nonexistent\/legacy\.yaml/,
    );
    const dir = await mkdtemp(path.join(tmpdir(), 'ficus-config-'));
    tempDirs.push(dir);
    const file = path.join(dir, 'list.yaml');
    await writeFile(file, '- a\n- b\n');
    await expect(parseLegacyArgs(['--config', file], {})).rejects.toThrow(/must hold a mapping/);
  });
});

describe('ficus demo configuration', () => {
  it('defaults to the .ficus/demo data directory, port 3000 and CDC status on 3200', () => {
    expect(parseDemoArgs([], {})).toEqual({
      dataDir: '.ficus/demo',
      legacyPort: 3000,
      cdcStatusPort: 3200,
      gatewayPort: 8080,
      servicesPort: 3101,
      traffic: false,
      trafficRate: 8,
      logLevel: 'warn',
    });
  });

  it('sends demo traffic at the rate asked for, and refuses a rate that is not a number', () => {
    expect(parseDemoArgs(['--traffic', '--traffic-rate', '20'], {})).toMatchObject({
      traffic: true,
      trafficRate: 20,
    });
    expect(parseDemoArgs([], { FICUS_DEMO_TRAFFIC: 'true' })).toMatchObject({ traffic: true });
    expect(() => parseDemoArgs(['--traffic-rate', 'fast'], {})).toThrow(
      /^trafficRate \(from --traffic-rate\)/,
    );
  });

  it('rejects a bad port naming the variable', () => {
    expect(() => parseDemoArgs([], { FICUS_LEGACY_PORT: '-1' })).toThrow(
      /legacyPort \(from environment variable FICUS_LEGACY_PORT\): must be a port from 0 to 65535/,
    );
  });
});

describe('ficus cdc configuration', () => {
  const url = 'postgres://ficus:ficus@127.0.0.1:5432/legacy';

  it('defaults to slot and publication ficus, the stdout sink without brokers, Kafka with them', async () => {
    const config = await parseCdcArgs([], { DATABASE_URL: url });
    expect(config).toMatchObject({
      slotName: 'ficus',
      publicationName: 'ficus',
      topicPrefix: 'ficus',
      snapshotMode: 'initial',
      decimalHandlingMode: 'string',
      statusPort: 3200,
      tableIncludeList: [],
    });
    expect(sinkKindOf(config)).toBe('stdout');
    const withKafka = await parseCdcArgs(['--tables', 'public\\.a, public\\.b'], {
      DATABASE_URL: url,
      KAFKA_BROKERS: 'k1:9092,k2:9092',
    });
    expect(withKafka.kafkaBrokers).toEqual(['k1:9092', 'k2:9092']);
    expect(withKafka.tableIncludeList).toEqual(['public\\.a', 'public\\.b']);
    expect(sinkKindOf(withKafka)).toBe('kafka');
  });

  it.each([
    [['--sink', 'kafka'], /kafkaBrokers: the kafka sink needs at least one broker/],
    [['--slot', 'Bad-Slot'], /slotName \(from --slot\): must be 1 to 63 lower-case letters/],
    [['--snapshot', 'sometimes'], /snapshotMode \(from --snapshot\): .*got "sometimes"/],
    [['--tables', 'public.(broken'], /tableIncludeList.*is not a regular expression/],
    [['--sink', 'file'], /sink \(from --sink\): .*got "file"/],
  ] as const)('rejects %j', async (argv, message) => {
    await expect(parseCdcArgs(argv, { DATABASE_URL: url })).rejects.toThrow(message);
  });
});

describe('ficus service configuration', () => {
  const source = 'postgres://ficus:ficus@127.0.0.1:5432/legacy';
  const own = 'postgres://ficus:ficus@127.0.0.1:5432/catalog';

  it('consumes Kafka when brokers are set, with the group ficus-<name> and the service port', async () => {
    const config = await parseServiceArgs(['catalog'], {
      DATABASE_URL: own,
      KAFKA_BROKERS: 'k1:9092, k2:9092',
    });
    expect(config).toMatchObject({
      source: 'kafka',
      kafkaBrokers: ['k1:9092', 'k2:9092'],
      topicPrefix: 'ficus',
      host: '127.0.0.1',
    });
    expect(config.definition.name).toBe('catalog');
    expect(config.definition.defaultPort).toBe(3101);
    expect(config.port).toBeUndefined();
  });

  it('takes the inactive-slot warning threshold as a size, from the flag or the environment', async () => {
    const env = { DATABASE_URL: own, FICUS_SOURCE_DATABASE_URL: source };
    await expect(
      parseServiceArgs(['catalog', '--inactive-slot-warn-bytes', '512MB'], env),
    ).resolves.toMatchObject({ inactiveSlotWarnBytes: 536_870_912 });
    await expect(
      parseServiceArgs(['catalog'], { ...env, FICUS_CDC_INACTIVE_SLOT_WARN_BYTES: '0' }),
    ).resolves.toMatchObject({ inactiveSlotWarnBytes: 0 });
    await expect(
      parseServiceArgs(['catalog', '--inactive-slot-warn-bytes', 'lots'], env),
    ).rejects.toThrow(
      /^inactiveSlotWarnBytes \(from --inactive-slot-warn-bytes\): must be a whole number of bytes/,
    );
  });

  it('streams from the monolith itself when only the source database is set', async () => {
    const config = await parseServiceArgs(['catalog', '--port', '4101'], {
      DATABASE_URL: own,
      FICUS_SOURCE_DATABASE_URL: source,
    });
    expect(config).toMatchObject({ source: 'connector', port: 4101, sourceDatabaseUrl: source });
  });

  it.each([
    [
      [],
      {},
      /^name one of ficus's services \(catalog.*\), e\.g\. 'ficus service catalog', or pass --module \.\/your-service\.ts/,
    ],
    [
      ['billing'],
      {},
      /^unknown service "billing"; ficus's own services are catalog, reviews, notifications\. Run a service of your own with --module/,
    ],
    [
      ['--module', 'no-such-service.ts'],
      {},
      /^module: "no-such-service\.ts" does not exist \(looked for \/.*no-such-service\.ts\)$/,
    ],
    [
      [],
      { FICUS_SERVICE_MODULE: 'no-such-service.ts' },
      /^module: "no-such-service\.ts" does not exist/,
    ],
    [['catalog'], {}, /^databaseUrl is required: set DATABASE_URL or pass --database-url/],
    [
      ['catalog'],
      { DATABASE_URL: own },
      /^source: catalog needs change events; set KAFKA_BROKERS .* or pass --source none/,
    ],
    [
      ['catalog', '--source', 'connector'],
      { DATABASE_URL: own },
      /^sourceDatabaseUrl: the connector source streams from the monolith; set FICUS_SOURCE_DATABASE_URL/,
    ],
    [
      ['catalog', '--source', 'files'],
      { DATABASE_URL: own },
      /^source \(from --source\): must be kafka, connector or none; got "files"$/,
    ],
    [
      ['catalog', '--colour'],
      { DATABASE_URL: own },
      /Unknown option '--colour'.*ficus service --help/,
    ],
  ])('refuses %j with %j, naming the problem', async (argv, env, message) => {
    await expect(parseServiceArgs(argv, env)).rejects.toThrow(message);
  });
});

describe('ficus reconcile configuration', () => {
  it('takes a running service or both databases', async () => {
    await expect(
      parseReconcileArgs(['catalog', '--service-url', 'http://127.0.0.1:3101'], {}),
    ).resolves.toMatchObject({ serviceUrl: 'http://127.0.0.1:3101', limit: 100, json: false });
    await expect(
      parseReconcileArgs(['reviews'], {
        DATABASE_URL: 'postgres://x@h/reviews',
        FICUS_SOURCE_DATABASE_URL: 'postgres://x@h/legacy',
      }),
    ).resolves.toMatchObject({ settleMs: 3000 });
  });

  it('refuses a bad limit naming the flag', async () => {
    await expect(
      parseReconcileArgs(['catalog', '--service-url', 'http://h:1', '--limit', 'many'], {}),
    ).rejects.toThrow(/^limit \(from --limit\): .*; got "many"$/);
  });
});

describe('ficus gateway configuration', () => {
  const env = { FICUS_ADMIN_TOKEN: 'a-token-of-at-least-16' };

  it('takes the CDC status URL the dashboard reads', async () => {
    await expect(
      parseGatewayArgs(['--routes', 'examples/routes.yaml'], {
        ...env,
        FICUS_CDC_STATUS_URL: 'http://cdc:3200/status',
      }),
    ).resolves.toMatchObject({ cdcStatusUrl: 'http://cdc:3200/status' });
  });

  it('takes an admin host name, and refuses a URL in its place', async () => {
    await expect(
      parseGatewayArgs(['--routes', 'r.yaml', '--admin-host', 'ficus-admin.internal'], env),
    ).resolves.toMatchObject({ adminHost: 'ficus-admin.internal' });
    await expect(
      parseGatewayArgs(['--routes', 'r.yaml'], { ...env, FICUS_ADMIN_HOST: 'https://x:1' }),
    ).rejects.toThrow(
      /^adminHost \(from environment variable FICUS_ADMIN_HOST\): must be a host name/,
    );
  });

  it('refuses a CDC status URL that is not http', async () => {
    await expect(
      parseGatewayArgs(['--routes', 'examples/routes.yaml', '--cdc-status-url', 'cdc:3200'], env),
    ).rejects.toThrow(
      /^cdcStatusUrl \(from --cdc-status-url\): must be an http:\/\/ or https:\/\/ URL/,
    );
  });
});

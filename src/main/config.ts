// The only place that reads process.env. Everything is validated once, at start-up; a bad value stops
// the process with one line that names the variable and says what is expected.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ApiAccess } from '../http/access.js';
import { parseKey } from '../shopify/secret-box.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/**
 * How Switchyard gets its Admin API token (docs/decisions/0015-connecting-to-shopify.md): a legacy
 * custom app's static token; the client credentials grant (an app of the merchant's own organization,
 * made in the Dev Dashboard); or an install through the authorization code grant, with expiring
 * offline tokens and refresh tokens.
 */
export type ShopifyAuth =
  | { grant: 'static'; adminToken: string }
  | { grant: 'client_credentials'; clientId: string }
  | { grant: 'authorization_code'; clientId: string };

export interface ShopifyConfig {
  shop: string;
  auth: ShopifyAuth;
  /** The app's client secret: signs webhooks, and obtains tokens with the client ID. */
  apiSecret: string;
  /** Seals stored tokens (SWITCHYARD_ENCRYPTION_KEY, 32 bytes); undefined: derived from the secret (client credentials only). */
  encryptionKey: Buffer | undefined;
  apiVersion: string;
  /** The Admin API's base URL when it is not https://{shop} (the simulator). */
  apiUrl: string | undefined;
  /** Open orders downloaded by the initial load: 1, 2 or 6 months. */
  initialLoadMonths: number;
  /** Webhook deliveries triggered longer ago than this are refused (a replayed old body). */
  webhookMaxAgeSeconds: number;
}

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  logLevel: LogLevel;
  publicUrl: string;
  apiToken: string | undefined;
  /** Requests per minute per client address (0: no limit), and for Shopify's webhook deliveries. */
  rateLimit: { perMinute: number; webhooksPerMinute: number };
  /** Proxies (addresses, CIDRs, or `loopback`, `linklocal`, `uniquelocal`) whose X-Forwarded-For is believed. */
  trustProxy: string[];
  /** How long start-up waits for an unreachable PostgreSQL before it gives up. */
  databaseWaitSeconds: number;
  shopify: ShopifyConfig | undefined;
  /** Version to use when a shop is configured later or simulated; SHOPIFY_API_VERSION. */
  shopifyApiVersion: string;
  /** Seconds a running job may keep going after SIGTERM before it is interrupted. */
  shutdownGraceSeconds: number;
  /** Folder watched for ERP count files (INVENTORY_IMPORT_DIR); unset = no folder import. */
  inventoryImportDir: string | undefined;
  /**
   * Bounds on count files, whichever way they come: a longer line is reported and skipped
   * (SWITCHYARD_IMPORT_MAX_LINE_BYTES); a larger upload is refused with 413
   * (SWITCHYARD_IMPORT_MAX_UPLOAD_BYTES).
   */
  imports: { maxLineBytes: number; maxUploadBytes: number };
  /**
   * Demo mode (SWITCHYARD_DEMO=auto|off): with no shop and no DATABASE_URL, `serve` runs its own
   * simulated shop with traffic (see src/harness/demo.ts).
   */
  demo: {
    mode: 'auto' | 'off';
    ordersPerMinute: number;
    seed: number;
    associateDelaySeconds: number;
    minutesPerDay: number;
  };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly expected: string,
    readonly got: string | undefined,
  ) {
    super(`Configuration error: ${variable} ${expected}${got === undefined ? '' : ` (got ${JSON.stringify(got)})`}`);
  }
}

/** Names of values that must never be printed. */
export const SECRET_VARIABLES = [
  'SHOPIFY_ADMIN_TOKEN',
  'SHOPIFY_API_SECRET',
  'SWITCHYARD_API_TOKEN',
  'SWITCHYARD_ENCRYPTION_KEY',
  'DATABASE_URL',
] as const;

const KNOWN_VARIABLES = [
  'PORT',
  'HOST',
  'SWITCHYARD_DATA_DIR',
  'INVENTORY_IMPORT_DIR',
  'SWITCHYARD_IMPORT_MAX_LINE_BYTES',
  'SWITCHYARD_IMPORT_MAX_UPLOAD_BYTES',
  'DATABASE_URL',
  'LOG_LEVEL',
  'SHOPIFY_SHOP',
  'SHOPIFY_ADMIN_TOKEN',
  'SHOPIFY_CLIENT_ID',
  'SHOPIFY_API_SECRET',
  'SHOPIFY_GRANT',
  'SWITCHYARD_ENCRYPTION_KEY',
  'SHOPIFY_API_VERSION',
  'SHOPIFY_API_URL',
  'SHOPIFY_INITIAL_LOAD_MONTHS',
  'SWITCHYARD_PUBLIC_URL',
  'SWITCHYARD_API_TOKEN',
  'SWITCHYARD_RATE_LIMIT_PER_MINUTE',
  'SWITCHYARD_WEBHOOK_RATE_LIMIT_PER_MINUTE',
  'SWITCHYARD_TRUST_PROXY',
  'SWITCHYARD_DATABASE_WAIT_SECONDS',
  'SHOPIFY_WEBHOOK_MAX_AGE_HOURS',
  'SWITCHYARD_SHUTDOWN_GRACE_SECONDS',
  'SWITCHYARD_DEMO',
  'SWITCHYARD_DEMO_ORDERS_PER_MINUTE',
  'SWITCHYARD_DEMO_SEED',
  'SWITCHYARD_DEMO_ASSOCIATE_SECONDS',
  'SWITCHYARD_DEMO_MINUTES_PER_DAY',
] as const;
type Variable = (typeof KNOWN_VARIABLES)[number];
type Source = Partial<Record<string, string | undefined>>;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function text(source: Source, name: Variable): string | undefined {
  const value = source[name];
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}

function integer(source: Source, name: Variable, fallback: number, min: number, max: number): number {
  const raw = text(source, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max}`, raw);
  }
  return Number(raw);
}

function url(source: Source, name: Variable, protocols: string[], expected: string): string | undefined {
  const raw = text(source, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    // Never echo a DATABASE_URL back: it may hold a password.
    throw new ConfigError(name, expected, SECRET_VARIABLES.includes(name as never) ? undefined : raw);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, expected, SECRET_VARIABLES.includes(name as never) ? undefined : raw);
  }
  return raw;
}

/** Reads an optional JSON config file whose keys are the same names as the environment variables. */
export function readConfigFile(path: string): Source {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError('SWITCHYARD_CONFIG', `must name a readable JSON file: ${(error as Error).message}`, path);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (error) {
    throw new ConfigError('SWITCHYARD_CONFIG', `must hold valid JSON: ${(error as Error).message}`, path);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('SWITCHYARD_CONFIG', 'must hold a JSON object of VARIABLE: value pairs', path);
  }
  const result: Source = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!KNOWN_VARIABLES.includes(key as Variable)) {
      throw new ConfigError(
        key,
        `is not a known setting (in ${path}); known: ${KNOWN_VARIABLES.join(', ')}`,
        undefined,
      );
    }
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new ConfigError(key, `must be a string or number (in ${path})`, undefined);
    }
    result[key] = String(value);
  }
  return result;
}

/** The config file (SWITCHYARD_CONFIG or `configPath`) overlaid by the environment. */
function sourceOf(env: Source, configPath: string | undefined): Source {
  const filePath = configPath ?? text(env, 'SWITCHYARD_CONFIG' as Variable);
  const fromFile = filePath ? readConfigFile(filePath) : {};
  const source: Source = { ...fromFile };
  for (const name of KNOWN_VARIABLES) {
    if (env[name] !== undefined) source[name] = env[name];
  }
  return source;
}

function shopifyApiVersionOf(source: Source): string {
  const apiVersion = text(source, 'SHOPIFY_API_VERSION') ?? '2026-07';
  if (!/^(\d{4}-(01|04|07|10)|unstable)$/.test(apiVersion)) {
    throw new ConfigError(
      'SHOPIFY_API_VERSION',
      'must be a Shopify API version like 2026-07 (YYYY-01/04/07/10)',
      apiVersion,
    );
  }
  return apiVersion;
}

/**
 * What `switchyard shopify app-config` reads, and nothing else: it runs before the app exists, when
 * the rest of the Shopify settings (a token, a secret) cannot be there yet. The URL is checked by the
 * command, which knows whether it came from --url or from here.
 */
export function loadAppConfigSettings(
  env: Source = process.env,
  configPath?: string,
): { publicUrl: string | undefined; clientId: string | undefined; apiVersion: string } {
  const source = sourceOf(env, configPath);
  return {
    publicUrl: text(source, 'SWITCHYARD_PUBLIC_URL'),
    clientId: text(source, 'SHOPIFY_CLIENT_ID'),
    apiVersion: shopifyApiVersionOf(source),
  };
}

/**
 * Builds the configuration from a config file (SWITCHYARD_CONFIG or `configPath`) overlaid by the
 * environment. Throws ConfigError on the first bad value.
 */
// eslint-disable-next-line complexity, max-lines-per-function -- one line per setting, each with its default and bounds: the branches are the settings' fallbacks, read top to bottom
export function loadConfig(env: Source = process.env, configPath?: string): Config {
  const source = sourceOf(env, configPath);

  const port = integer(source, 'PORT', 8080, 0, 65535);
  const dataDir = resolve(text(source, 'SWITCHYARD_DATA_DIR') ?? './.switchyard');
  const databaseUrl = url(
    source,
    'DATABASE_URL',
    ['postgres:', 'postgresql:'],
    'must be a postgres:// or postgresql:// URL',
  );

  const logLevelRaw = text(source, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevelRaw as LogLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`, logLevelRaw);
  }

  const apiVersion = shopifyApiVersionOf(source);

  const shop = text(source, 'SHOPIFY_SHOP');
  if (shop !== undefined && !/^[a-z0-9][a-z0-9-]*\.myshopify\.com$/.test(shop)) {
    throw new ConfigError('SHOPIFY_SHOP', 'must be a shop domain like name.myshopify.com', shop);
  }
  const adminToken = text(source, 'SHOPIFY_ADMIN_TOKEN');
  const clientId = text(source, 'SHOPIFY_CLIENT_ID');
  const apiSecret = text(source, 'SHOPIFY_API_SECRET');
  const grant = text(source, 'SHOPIFY_GRANT');
  const keyText = text(source, 'SWITCHYARD_ENCRYPTION_KEY');
  const encryptionKey = keyText === undefined ? undefined : parseKey(keyText);
  if (keyText !== undefined && encryptionKey === undefined) {
    throw new ConfigError(
      'SWITCHYARD_ENCRYPTION_KEY',
      'must be 32 random bytes as 64 hex digits or base64 (make one with: openssl rand -hex 32)',
      undefined,
    );
  }
  let shopify: ShopifyConfig | undefined;
  if (shop !== undefined) {
    if (apiSecret === undefined)
      throw new ConfigError(
        'SHOPIFY_API_SECRET',
        "is required when SHOPIFY_SHOP is set (the app's client secret, from the Dev Dashboard)",
        undefined,
      );
    if (grant !== undefined && grant !== 'client_credentials' && grant !== 'authorization_code') {
      throw new ConfigError(
        'SHOPIFY_GRANT',
        'must be client_credentials (an app of your own organization) or authorization_code (an app installed through its install link)',
        grant,
      );
    }
    let auth: ShopifyAuth;
    if (adminToken !== undefined) {
      if (grant !== undefined)
        throw new ConfigError(
          'SHOPIFY_GRANT',
          'does not go with SHOPIFY_ADMIN_TOKEN (a legacy custom app has a fixed token): set one or the other',
          grant,
        );
      if (clientId !== undefined)
        throw new ConfigError(
          'SHOPIFY_CLIENT_ID',
          'does not go with SHOPIFY_ADMIN_TOKEN: set the client ID (a Dev Dashboard app) or the token (a legacy custom app), not both',
          undefined,
        );
      auth = { grant: 'static', adminToken };
    } else {
      if (clientId === undefined) {
        throw new ConfigError(
          'SHOPIFY_CLIENT_ID',
          "is required when SHOPIFY_SHOP is set (the app's client ID, from the Dev Dashboard; or SHOPIFY_ADMIN_TOKEN for a legacy custom app)",
          undefined,
        );
      }
      if (!/^[A-Za-z0-9_-]{8,100}$/.test(clientId))
        throw new ConfigError(
          'SHOPIFY_CLIENT_ID',
          'must be the client ID shown in the Dev Dashboard (letters and digits)',
          undefined,
        );
      if (grant === 'authorization_code' && encryptionKey === undefined) {
        throw new ConfigError(
          'SWITCHYARD_ENCRYPTION_KEY',
          'is required with SHOPIFY_GRANT=authorization_code: it seals the refresh token at rest (make one with: openssl rand -hex 32)',
          undefined,
        );
      }
      if (grant === 'authorization_code') {
        // Shopify sends the install's code to this address: it must be set, and https unless on this machine.
        const given = text(source, 'SWITCHYARD_PUBLIC_URL');
        const parsed = given === undefined ? undefined : URL.canParse(given) ? new URL(given) : undefined;
        const local = parsed !== undefined && ['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname);
        if (parsed === undefined || (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && local))) {
          throw new ConfigError(
            'SWITCHYARD_PUBLIC_URL',
            'must be set to the https:// address Shopify sends the install back to, with SHOPIFY_GRANT=authorization_code (http:// only on localhost)',
            given,
          );
        }
      }
      auth = { grant: grant === 'authorization_code' ? 'authorization_code' : 'client_credentials', clientId };
    }
    const months = integer(source, 'SHOPIFY_INITIAL_LOAD_MONTHS', 1, 1, 6);
    if (![1, 2, 6].includes(months))
      throw new ConfigError('SHOPIFY_INITIAL_LOAD_MONTHS', 'must be 1, 2 or 6', String(months));
    shopify = {
      shop,
      auth,
      apiSecret,
      encryptionKey,
      apiVersion,
      apiUrl: url(source, 'SHOPIFY_API_URL', ['http:', 'https:'], 'must be an http:// or https:// URL'),
      initialLoadMonths: months,
      webhookMaxAgeSeconds: integer(source, 'SHOPIFY_WEBHOOK_MAX_AGE_HOURS', 24, 1, 24 * 30) * 3600,
    };
  } else if (adminToken !== undefined || apiSecret !== undefined || clientId !== undefined || grant !== undefined) {
    throw new ConfigError(
      'SHOPIFY_SHOP',
      'is required when SHOPIFY_ADMIN_TOKEN, SHOPIFY_CLIENT_ID, SHOPIFY_API_SECRET or SHOPIFY_GRANT is set',
      undefined,
    );
  }

  const publicUrl =
    url(source, 'SWITCHYARD_PUBLIC_URL', ['http:', 'https:'], 'must be an http:// or https:// URL') ??
    `http://localhost:${port}`;

  const apiToken = text(source, 'SWITCHYARD_API_TOKEN');
  if (apiToken !== undefined && apiToken.length < 16) {
    throw new ConfigError('SWITCHYARD_API_TOKEN', 'must be at least 16 characters long', undefined);
  }

  const demoMode = text(source, 'SWITCHYARD_DEMO') ?? 'auto';
  if (demoMode !== 'auto' && demoMode !== 'off')
    throw new ConfigError('SWITCHYARD_DEMO', 'must be auto or off', demoMode);
  // The demo is open without a credential, so by default it listens on this machine only.
  const demoWouldRun = demoMode === 'auto' && shopify === undefined && databaseUrl === undefined;
  const host = text(source, 'HOST') ?? (demoWouldRun ? '127.0.0.1' : '0.0.0.0');
  const trustProxy = (text(source, 'SWITCHYARD_TRUST_PROXY') ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  for (const proxy of trustProxy) {
    if (!/^(loopback|linklocal|uniquelocal|[0-9a-fA-F.:]+(\/\d{1,3})?)$/.test(proxy)) {
      throw new ConfigError(
        'SWITCHYARD_TRUST_PROXY',
        'must be a comma-separated list of addresses, CIDR ranges, or loopback, linklocal, uniquelocal',
        proxy,
      );
    }
  }
  const demo = {
    mode: demoMode as 'auto' | 'off',
    ordersPerMinute: integer(source, 'SWITCHYARD_DEMO_ORDERS_PER_MINUTE', 10, 0, 6000),
    seed: integer(source, 'SWITCHYARD_DEMO_SEED', 1, 1, 1_000_000),
    associateDelaySeconds: integer(source, 'SWITCHYARD_DEMO_ASSOCIATE_SECONDS', 5, 0, 3600),
    minutesPerDay: integer(source, 'SWITCHYARD_DEMO_MINUTES_PER_DAY', 10, 1, 1440),
  };

  return {
    port,
    host,
    dataDir,
    databaseUrl,
    logLevel: logLevelRaw as LogLevel,
    publicUrl: publicUrl.replace(/\/+$/, ''),
    apiToken,
    rateLimit: {
      perMinute: integer(source, 'SWITCHYARD_RATE_LIMIT_PER_MINUTE', 1200, 0, 10_000_000),
      webhooksPerMinute: integer(source, 'SWITCHYARD_WEBHOOK_RATE_LIMIT_PER_MINUTE', 30_000, 0, 10_000_000),
    },
    trustProxy,
    databaseWaitSeconds: integer(source, 'SWITCHYARD_DATABASE_WAIT_SECONDS', 300, 0, 86_400),
    shopify,
    shopifyApiVersion: apiVersion,
    shutdownGraceSeconds: integer(source, 'SWITCHYARD_SHUTDOWN_GRACE_SECONDS', 25, 0, 3600),
    inventoryImportDir: text(source, 'INVENTORY_IMPORT_DIR')
      ? resolve(text(source, 'INVENTORY_IMPORT_DIR')!)
      : undefined,
    imports: {
      // A count line is under 100 bytes; 64 KiB leaves room for wide ERP exports. At most 16 MiB:
      // the reader holds one line.
      maxLineBytes: integer(source, 'SWITCHYARD_IMPORT_MAX_LINE_BYTES', 64 * 1024, 1024, 16 * 1024 ** 2),
      // 1 GiB is about 25 million count lines; the upload is streamed to disk, never held.
      maxUploadBytes: integer(source, 'SWITCHYARD_IMPORT_MAX_UPLOAD_BYTES', 1024 ** 3, 1024, 64 * 1024 ** 3),
    },
    demo,
  };
}

/** The configuration with secrets masked, safe to log or show. */
export function describeConfig(config: Config): Record<string, unknown> {
  return {
    port: config.port,
    host: config.host,
    dataDir: config.dataDir,
    database: config.databaseUrl ? maskUrl(config.databaseUrl) : 'embedded (PGlite)',
    logLevel: config.logLevel,
    publicUrl: config.publicUrl,
    apiToken: config.apiToken ? '[set]' : '[not set]',
    apiAccess: describeApiAccess(apiAccessOf(config)),
    shopify: config.shopify
      ? {
          shop: config.shopify.shop,
          apiVersion: config.shopify.apiVersion,
          grant: config.shopify.auth.grant,
          ...(config.shopify.auth.grant === 'static'
            ? { adminToken: '[set]' }
            : { clientId: config.shopify.auth.clientId }),
          apiSecret: '[set]',
          encryptionKey: config.shopify.encryptionKey ? '[set]' : '[derived from the client secret]',
        }
      : '[not configured]',
  };
}

const isLoopbackHost = (host: string) => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

function isLoopbackUrl(raw: string): boolean {
  const host = new URL(raw).hostname.replace(/^\[|\]$/g, '');
  return isLoopbackHost(host);
}

/**
 * Whether and how the API asks for a credential. With a token: always the token. Without one, the API
 * is open only for the demo and rehearsals: listening on loopback, no reverse proxy in front, and
 * either no shop on the embedded database, or a simulated shop on this machine. Anything else (a real
 * shop, a server database, a proxy, another interface) is closed until a credential is configured:
 * nothing opens up because a setting is missing.
 */
export function apiAccessOf(
  config: Pick<Config, 'apiToken' | 'host' | 'shopify' | 'databaseUrl' | 'trustProxy'>,
): ApiAccess {
  if (config.apiToken) return { mode: 'token', token: config.apiToken };
  const set = 'Set SWITCHYARD_API_TOKEN (at least 16 characters)';
  const realShop =
    config.shopify !== undefined && (config.shopify.apiUrl === undefined || !isLoopbackUrl(config.shopify.apiUrl));
  if (realShop)
    return {
      mode: 'closed',
      reason: `a Shopify shop is connected and no credential is configured. ${set} and restart.`,
    };
  if (!isLoopbackHost(config.host))
    return {
      mode: 'closed',
      reason: `it listens on ${config.host}, beyond this machine, and no credential is configured. ${set}, or HOST=127.0.0.1, and restart.`,
    };
  if (config.trustProxy.length > 0)
    return {
      mode: 'closed',
      reason: `a reverse proxy forwards requests from elsewhere (SWITCHYARD_TRUST_PROXY) and no credential is configured. ${set} and restart.`,
    };
  if (config.shopify === undefined && config.databaseUrl !== undefined) {
    return {
      mode: 'closed',
      reason: `it runs on a PostgreSQL database (DATABASE_URL) and no credential is configured. ${set} and restart.`,
    };
  }
  return { mode: 'open' };
}

function describeApiAccess(access: ApiAccess): string {
  if (access.mode === 'token') return 'bearer token';
  if (access.mode === 'open') return 'open (listening on loopback only, no real shop)';
  return `closed: ${access.reason}`;
}

function maskUrl(raw: string): string {
  const parsed = new URL(raw);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** Test and tooling hook: the env var names the config reads. */
export const CONFIG_VARIABLES: readonly string[] = [...KNOWN_VARIABLES, 'SWITCHYARD_CONFIG'];

/** Variables the test-suite support reads (not product settings). Kept here so only this file reads the environment. */
export function readTestEnvironment(env: Source = process.env): {
  databaseUrl: string | undefined;
  path: string | undefined;
} {
  return { databaseUrl: text(env, 'DATABASE_URL'), path: env['PATH'] };
}

/** The environment a child process of Switchyard starts from (PATH, HOME, …), to be overlaid with its settings. */
export function inheritedEnvironment(): NodeJS.ProcessEnv {
  return { ...process.env };
}

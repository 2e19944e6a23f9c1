import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { ConfigError, describeConfig, loadAppConfigSettings, loadConfig, readTestEnvironment } from './config.js';
import { CLI, startChild } from '../../test/support/child.js';

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  test('defaults', () => {
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.dataDir).toBe(join(process.cwd(), '.switchyard'));
    expect(config.databaseUrl).toBeUndefined();
    expect(config.logLevel).toBe('info');
    expect(config.shopify).toBeUndefined();
    expect(config.shopifyApiVersion).toBe('2026-07');
    expect(config.publicUrl).toBe('http://localhost:8080');
  });

  test.each([
    [{ PORT: 'abc' }, 'PORT', 'Configuration error: PORT must be a whole number from 0 to 65535 (got "abc")'],
    [{ PORT: '70000' }, 'PORT', 'Configuration error: PORT must be a whole number from 0 to 65535 (got "70000")'],
    [
      { LOG_LEVEL: 'loud' },
      'LOG_LEVEL',
      'Configuration error: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
    ],
    [
      { DATABASE_URL: 'mysql://x' },
      'DATABASE_URL',
      'Configuration error: DATABASE_URL must be a postgres:// or postgresql:// URL',
    ],
    [
      { SHOPIFY_SHOP: 'my shop' },
      'SHOPIFY_SHOP',
      'Configuration error: SHOPIFY_SHOP must be a shop domain like name.myshopify.com (got "my shop")',
    ],
    [
      { SHOPIFY_SHOP: 'a.myshopify.com', SHOPIFY_API_SECRET: 's' },
      'SHOPIFY_CLIENT_ID',
      "Configuration error: SHOPIFY_CLIENT_ID is required when SHOPIFY_SHOP is set (the app's client ID, from the Dev Dashboard; or SHOPIFY_ADMIN_TOKEN for a legacy custom app)",
    ],
    [
      { SHOPIFY_SHOP: 'a.myshopify.com', SHOPIFY_ADMIN_TOKEN: 't' },
      'SHOPIFY_API_SECRET',
      "Configuration error: SHOPIFY_API_SECRET is required when SHOPIFY_SHOP is set (the app's client secret, from the Dev Dashboard)",
    ],
    [
      { SHOPIFY_ADMIN_TOKEN: 't' },
      'SHOPIFY_SHOP',
      'Configuration error: SHOPIFY_SHOP is required when SHOPIFY_ADMIN_TOKEN, SHOPIFY_CLIENT_ID, SHOPIFY_API_SECRET or SHOPIFY_GRANT is set',
    ],
    [
      { SHOPIFY_GRANT: 'bogus' },
      'SHOPIFY_SHOP',
      'Configuration error: SHOPIFY_SHOP is required when SHOPIFY_ADMIN_TOKEN, SHOPIFY_CLIENT_ID, SHOPIFY_API_SECRET or SHOPIFY_GRANT is set',
    ],
    [
      {
        SHOPIFY_SHOP: 'a.myshopify.com',
        SHOPIFY_API_SECRET: 's',
        SHOPIFY_ADMIN_TOKEN: 't',
        SHOPIFY_CLIENT_ID: 'abcdef0123456789',
      },
      'SHOPIFY_CLIENT_ID',
      'Configuration error: SHOPIFY_CLIENT_ID does not go with SHOPIFY_ADMIN_TOKEN: set the client ID (a Dev Dashboard app) or the token (a legacy custom app), not both',
    ],
    [
      {
        SHOPIFY_SHOP: 'a.myshopify.com',
        SHOPIFY_API_SECRET: 's',
        SHOPIFY_CLIENT_ID: 'abcdef0123456789',
        SHOPIFY_GRANT: 'authorization_code',
        SWITCHYARD_ENCRYPTION_KEY: 'ab'.repeat(32),
      },
      'SWITCHYARD_PUBLIC_URL',
      'Configuration error: SWITCHYARD_PUBLIC_URL must be set to the https:// address Shopify sends the install back to, with SHOPIFY_GRANT=authorization_code (http:// only on localhost)',
    ],
    [
      {
        SHOPIFY_SHOP: 'a.myshopify.com',
        SHOPIFY_API_SECRET: 's',
        SHOPIFY_CLIENT_ID: 'abcdef0123456789',
        SHOPIFY_GRANT: 'authorization_code',
        SWITCHYARD_ENCRYPTION_KEY: 'ab'.repeat(32),
        SWITCHYARD_PUBLIC_URL: 'http://oms.example.com',
      },
      'SWITCHYARD_PUBLIC_URL',
      'Configuration error: SWITCHYARD_PUBLIC_URL must be set to the https:// address Shopify sends the install back to, with SHOPIFY_GRANT=authorization_code (http:// only on localhost) (got "http://oms.example.com")',
    ],
    [
      {
        SHOPIFY_SHOP: 'a.myshopify.com',
        SHOPIFY_API_SECRET: 's',
        SHOPIFY_CLIENT_ID: 'abcdef0123456789',
        SHOPIFY_GRANT: 'authorization_code',
      },
      'SWITCHYARD_ENCRYPTION_KEY',
      'Configuration error: SWITCHYARD_ENCRYPTION_KEY is required with SHOPIFY_GRANT=authorization_code: it seals the refresh token at rest (make one with: openssl rand -hex 32)',
    ],
    [
      {
        SHOPIFY_SHOP: 'a.myshopify.com',
        SHOPIFY_API_SECRET: 's',
        SHOPIFY_CLIENT_ID: 'abcdef0123456789',
        SHOPIFY_GRANT: 'password',
      },
      'SHOPIFY_GRANT',
      'Configuration error: SHOPIFY_GRANT must be client_credentials (an app of your own organization) or authorization_code (an app installed through its install link) (got "password")',
    ],
    [
      {
        SHOPIFY_SHOP: 'a.myshopify.com',
        SHOPIFY_API_SECRET: 's',
        SHOPIFY_ADMIN_TOKEN: 't',
        SHOPIFY_GRANT: 'client_credentials',
      },
      'SHOPIFY_GRANT',
      'Configuration error: SHOPIFY_GRANT does not go with SHOPIFY_ADMIN_TOKEN (a legacy custom app has a fixed token): set one or the other (got "client_credentials")',
    ],
    [
      { SWITCHYARD_ENCRYPTION_KEY: 'short' },
      'SWITCHYARD_ENCRYPTION_KEY',
      'Configuration error: SWITCHYARD_ENCRYPTION_KEY must be 32 random bytes as 64 hex digits or base64 (make one with: openssl rand -hex 32)',
    ],
    [
      { SHOPIFY_API_VERSION: '2026-05' },
      'SHOPIFY_API_VERSION',
      'Configuration error: SHOPIFY_API_VERSION must be a Shopify API version like 2026-07 (YYYY-01/04/07/10) (got "2026-05")',
    ],
    [
      { SWITCHYARD_PUBLIC_URL: 'ftp://x' },
      'SWITCHYARD_PUBLIC_URL',
      'Configuration error: SWITCHYARD_PUBLIC_URL must be an http:// or https:// URL (got "ftp://x")',
    ],
    [
      { SWITCHYARD_API_TOKEN: 'short' },
      'SWITCHYARD_API_TOKEN',
      'Configuration error: SWITCHYARD_API_TOKEN must be at least 16 characters long',
    ],
  ])('%j is refused, naming %s', (env, variable, message) => {
    const error = errorOf(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toBe(message);
  });

  test('count file bounds: defaults, settings, and values out of range refused', () => {
    expect(loadConfig({}).imports).toEqual({ maxLineBytes: 65_536, maxUploadBytes: 1_073_741_824 });
    expect(
      loadConfig({ SWITCHYARD_IMPORT_MAX_LINE_BYTES: '4096', SWITCHYARD_IMPORT_MAX_UPLOAD_BYTES: '10485760' }).imports,
    ).toEqual({ maxLineBytes: 4096, maxUploadBytes: 10_485_760 });
    expect(errorOf({ SWITCHYARD_IMPORT_MAX_LINE_BYTES: '100' }).message).toBe(
      'Configuration error: SWITCHYARD_IMPORT_MAX_LINE_BYTES must be a whole number from 1024 to 16777216 (got "100")',
    );
    expect(errorOf({ SWITCHYARD_IMPORT_MAX_UPLOAD_BYTES: '1GB' }).message).toBe(
      'Configuration error: SWITCHYARD_IMPORT_MAX_UPLOAD_BYTES must be a whole number from 1024 to 68719476736 (got "1GB")',
    );
  });

  test('a malformed DATABASE_URL is named without echoing it (it may hold a password)', () => {
    const error = errorOf({ DATABASE_URL: 'postgres://user:hunter2@' });
    expect(error.variable).toBe('DATABASE_URL');
    expect(error.message).not.toContain('hunter2');
  });

  test('a config file is read, and the environment overrides it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-config-'));
    const file = join(dir, 'switchyard.json');
    writeFileSync(file, JSON.stringify({ PORT: 9000, LOG_LEVEL: 'debug' }));
    const config = loadConfig({ SWITCHYARD_CONFIG: file, LOG_LEVEL: 'warn' });
    expect(config.port).toBe(9000);
    expect(config.logLevel).toBe('warn');
    writeFileSync(file, JSON.stringify({ PROT: 9000 }));
    expect(errorOf({ SWITCHYARD_CONFIG: file }).variable).toBe('PROT');
    writeFileSync(file, '{ not json');
    expect(errorOf({ SWITCHYARD_CONFIG: file }).message).toMatch(
      /^Configuration error: SWITCHYARD_CONFIG must hold valid JSON/,
    );
  });

  test('app-config settings are read before the shop can be connected: a shop without its token is no error there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({ SWITCHYARD_PUBLIC_URL: 'https://oms.example.com', SHOPIFY_CLIENT_ID: 'from-file' }),
    );
    expect(loadAppConfigSettings({ SHOPIFY_SHOP: 'x.myshopify.com', SHOPIFY_CLIENT_ID: 'abc' }, file)).toEqual({
      publicUrl: 'https://oms.example.com',
      clientId: 'abc',
      apiVersion: '2026-07',
    });
    expect(() => loadConfig({ SHOPIFY_SHOP: 'x.myshopify.com' })).toThrow('SHOPIFY_API_SECRET is required');
    expect(() => loadAppConfigSettings({ SHOPIFY_API_VERSION: '2026-05' })).toThrow(
      'SHOPIFY_API_VERSION must be a Shopify API version',
    );
  });

  test('describeConfig never shows secrets', () => {
    const config = loadConfig({
      SHOPIFY_SHOP: 'a.myshopify.com',
      SHOPIFY_ADMIN_TOKEN: 'shpat_supersecret',
      SHOPIFY_API_SECRET: 'apisecret123',
      SWITCHYARD_API_TOKEN: 'token-0123456789abcdef',
      DATABASE_URL: 'postgres://u:dbpassword@localhost/x',
    });
    const text = JSON.stringify(describeConfig(config));
    for (const secret of ['shpat_supersecret', 'apisecret123', 'token-0123456789abcdef', 'dbpassword'])
      expect(text).not.toContain(secret);
    expect(text).toContain('a.myshopify.com');
  });

  test('the CLI stops at start-up with one line naming the variable', async () => {
    const child = startChild(CLI, ['serve'], { PATH: readTestEnvironment().path, PORT: 'eighty' });
    expect(await child.exited).toBe(2);
    expect(child.output().trim()).toBe(
      'switchyard: Configuration error: PORT must be a whole number from 0 to 65535 (got "eighty")',
    );
  });
});

// Every route of the OpenAPI document, sent what an attacker or a broken client sends: wrong types,
// numbers beyond any column, NUL bytes, unicode, huge strings, malformed bodies. No answer may be a 5xx,
// and a refused request (4xx) must leave every table as it was (a fingerprint of each table before and
// after each request).
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { backend, waitFor } from './support/backend.js';
import { rawRequest } from './support/raw-http.js';
import { connectToSimulatedShop, type Connected } from './support/switchyard-sim.js';
import { queryRows } from '../src/platform/db/rows.js';
import { placeOrder } from '../src/simulator/orders.js';

type Schema = {
  type?: string;
  enum?: unknown[];
  anyOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  minItems?: number;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  format?: string;
  nullable?: boolean;
};
type Operation = {
  parameters?: Array<{ in: 'path' | 'query'; name: string; schema: Schema }>;
  requestBody?: { content: Record<string, { schema: Schema }> };
};

let c: Connected;
let port: number;
/** Real values for parameters by name, so that a mutation of one part reaches the code behind the others. */
const known: Record<string, string> = {};

beforeAll(async () => {
  c = await connectToSimulatedShop({ seed: 23, products: 5, stores: 2 });
  port = Number(new URL(c.switchyard.url!).port);
  const variant = [...c.shop.variants.values()][0]!;
  const placed = placeOrder(c.shop, { lines: [{ variantId: variant.id, quantity: 1 }], shipping: 'standard' });
  if (!placed.ok) throw new Error(`could not place an order: ${JSON.stringify(placed.userErrors)}`);
  const order = await waitFor(
    'the order to be routed',
    async () => {
      const { body } = await c.api('GET', '/api/v1/orders?limit=5');
      return (body.orders as Array<{ id: number; lines: Array<{ id: number; status: string }> }>).find((o) =>
        o.lines.every((l) => l.status === 'brokered'),
      );
    },
    60_000,
  );
  const facilities = (await c.api('GET', '/api/v1/facilities')).body.facilities as Array<{
    code: string;
    kind: string;
  }>;
  Object.assign(known, {
    id: String(order.id),
    lineId: String(order.lines[0]!.id),
    code: facilities.find((f) => f.kind !== 'VIRTUAL')!.code,
    facility: facilities.find((f) => f.kind !== 'VIRTUAL')!.code,
    sku: variant.sku ?? 'x',
    name: 'housekeeping.prune-history',
    queue: 'unfillable',
  });
  const rules = (await c.api('GET', '/api/v1/routing/default-rules')).body;
  const draft = (await c.api('POST', '/api/v1/routing/versions', { name: 'fuzz draft', document: rules })).body as {
    id: number;
  };
  known['draftId'] = String(draft.id);
  for (const path of ['/api/v1/routing/versions/{id}', '/api/v1/routing/versions/{id}/activate'])
    knownForPath[path] = { id: String(draft.id) };
  const settings = (await c.api('GET', '/api/v1/fulfillment/settings')).body;
  Object.assign(openBodies, {
    'POST /api/v1/routing/validate': rules,
    'POST /api/v1/routing/versions': { name: 'fuzz', document: rules },
    'PUT /api/v1/routing/versions/{id}': { document: rules },
    'PATCH /api/v1/fulfillment/settings': settings,
  });
  // Nothing in the background may write while the fuzzer compares tables.
  for (const job of (await c.api('GET', '/api/v1/jobs')).body.jobs as Array<{ name: string }>) {
    expect((await c.api('PUT', `/api/v1/jobs/${job.name}/schedule`, { enabled: false })).status).toBe(200);
  }
  await quiet();
}, 180_000);
afterAll(async () => {
  await c?.close();
});

/** A fingerprint of every table Switchyard's data lives in (not the job runtime's own bookkeeping). */
async function fingerprint(): Promise<string> {
  const tables = await queryRows<{ name: string }>(
    c.db(),
    // Import reports are kept for refused files too, on purpose (GET /api/v1/inventory/imports/{id}).
    sql`select tablename as name from pg_tables where schemaname = 'public' and tablename not like 'job\_%' and tablename <> 'inventory_imports' order by tablename`,
  );
  const parts = tables.map(
    (t) =>
      `select '${t.name}' as t, count(*)::text || ':' || coalesce(sum(hashtext(x::text)::bigint), 0)::text as h from "${t.name}" x`,
  );
  const rows = await queryRows<{ t: string; h: string }>(c.db(), sql.raw(parts.join(' union all ')));
  return rows.map((r) => `${r.t}=${r.h}`).join(' ');
}

/** Job runs queued or under way (a successful change asks for a publish, a push, routing). */
async function jobsBusy(): Promise<boolean> {
  const [row] = await queryRows<{ n: number }>(
    c.db(),
    sql`select (select count(*) from pgboss.job where state in ('created', 'retry', 'active') and start_after <= now() + interval '2 seconds')::int
             + (select count(*) from job_runs where status = 'running')::int as n`,
  );
  return row!.n > 0;
}

/** Waits until the work a successful request set off is done and nothing changes for a moment. */
async function quiet(): Promise<string> {
  let last = await fingerprint();
  for (let i = 0; i < 500; i++) {
    // Longer than the 20 ms in which a change asks for the job that carries it on.
    await new Promise((r) => setTimeout(r, 30));
    if (await jobsBusy()) continue;
    const now = await fingerprint();
    if (now === last) return now;
    last = now;
  }
  throw new Error('the background work never settled');
}

function validValue(schema: Schema, name: string): unknown {
  if (known[name] !== undefined) return schema.type === 'integer' ? Number(known[name]) : known[name];
  if (schema.enum) return schema.enum[0];
  if (schema.anyOf) return validValue(schema.anyOf[0]!, name);
  switch (schema.type) {
    case 'integer':
    case 'number':
      return Math.max(1, schema.minimum ?? 1);
    case 'boolean':
      return false;
    case 'array':
      return Array.from({ length: Math.max(1, schema.minItems ?? 0) }, () => validValue(schema.items ?? {}, name));
    case 'object':
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, validValue(v, k)]));
    case 'string':
      if (schema.format === 'date-time') return new Date().toISOString();
      if (schema.format === 'uri') return 'https://example.com/track';
      return 'fuzz';
    default:
      return {};
  }
}

const BAD_JSON_VALUES: unknown[] = [
  '3',
  true,
  [2],
  {},
  null,
  1.5,
  -1,
  0,
  2 ** 31,
  3e9,
  1e12,
  -1e12,
  1e308,
  Number.MAX_SAFE_INTEGER + 2,
  '99999999999999999999',
  'a\u0000b',
  '\u0000',
  'a\ud800b',
  '\udfff',
  'x'.repeat(100_000),
  'ÿ漢字🙂\u202e',
  '',
  ' ',
  "'; drop table orders; --",
  ['BOSTON-STORE'],
];
const BAD_TEXT_VALUES = [
  '99999999999999999999',
  '-1',
  '0',
  '1.5',
  '2147483648',
  '9007199254740993',
  '%00',
  'a%00b',
  '%F0%9F%99%82',
  'x'.repeat(3000),
  '..%2F..',
  '%FF',
  'true',
  '[]',
];
const RAW_BODIES: Array<[string, string]> = [
  ['application/json', ''],
  ['application/json', 'null'],
  ['application/json', '[]'],
  ['application/json', '"x"'],
  ['application/json', '1'],
  ['application/json', '{'],
  ['application/json', '{"a":"\\u0000"}'],
  ['application/json', '['.repeat(5000) + ']'.repeat(5000)],
  ['text/plain', 'hello'],
  ['text/csv', 'facility,sku\n\u0000,x\n'],
  ['application/x-ndjson', '{"facility":"\\u0000"}\n'],
];

interface Probe {
  method: string;
  target: string;
  contentType?: string;
  body?: string;
  what: string;
}

/** Parameters whose real value depends on the route (an id is an order's in one, a rule version's in another). */
const knownForPath: Record<string, Record<string, string>> = {};

/** Bodies the OpenAPI document leaves open (a rule document, the settings): their real shapes, to mutate leaf by leaf. */
const openBodies: Record<string, unknown> = {};

/** Every way to replace one leaf of `value` with a bad value. */
function leafMutations(value: unknown, bads: unknown[], path: string[] = []): Array<{ path: string; value: unknown }> {
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) =>
      leafMutations(v, bads, [...path, k]).map((m) => ({
        path: m.path,
        value: Array.isArray(value) ? Object.assign([...value], { [k]: m.value }) : { ...value, [k]: m.value },
      })),
    );
  }
  return bads.map((bad) => ({ path: `${path.join('.')}=${JSON.stringify(bad).slice(0, 20)}`, value: bad }));
}

const LEAF_BADS: unknown[] = ['3', true, null, -1, 2 ** 31, 1e308, 'a\u0000b', 'a\ud800b', 'x'.repeat(5000), [2], {}];

function probesFor(path: string, method: string, op: Operation): Probe[] {
  const params = op.parameters ?? [];
  const fill = (overrides: Record<string, string> = {}) =>
    path.replace(
      /\{(\w+)\}/g,
      (_m, n: string) =>
        overrides[n] ??
        knownForPath[path]?.[n] ??
        encodeURIComponent(String(validValue(params.find((p) => p.name === n)?.schema ?? {}, n))),
    );
  const query = (overrides: Record<string, string> = {}) => {
    const parts = params
      .filter((p) => p.in === 'query' && overrides[p.name] !== undefined)
      .map((p) => `${p.name}=${overrides[p.name]}`);
    return parts.length ? `?${parts.join('&')}` : '';
  };
  const json = op.requestBody?.content['application/json']?.schema;
  const validBody = json ? JSON.stringify(validValue(json, '')) : undefined;
  const base = { method, contentType: json ? 'application/json' : undefined, body: validBody };
  const probes: Probe[] = [{ ...base, target: fill(), what: 'valid' }];
  for (const p of params.filter((x) => x.in === 'path'))
    for (const bad of BAD_TEXT_VALUES)
      probes.push({ ...base, target: fill({ [p.name]: bad }), what: `path ${p.name}=${bad.slice(0, 30)}` });
  for (const p of params.filter((x) => x.in === 'query'))
    for (const bad of BAD_TEXT_VALUES)
      probes.push({ ...base, target: fill() + query({ [p.name]: bad }), what: `query ${p.name}=${bad.slice(0, 30)}` });
  if (json) {
    const valid = validValue(json, '') as Record<string, unknown>;
    const props = Object.keys(json.properties ?? {});
    for (const prop of props) {
      for (const bad of BAD_JSON_VALUES)
        probes.push({
          ...base,
          target: fill(),
          body: JSON.stringify({ ...valid, [prop]: bad }),
          what: `body ${prop}=${JSON.stringify(bad).slice(0, 30)}`,
        });
      const inner = json.properties![prop]!;
      if (inner.type === 'array' && inner.items?.type === 'object') {
        for (const itemProp of Object.keys(inner.items.properties ?? {})) {
          for (const bad of BAD_JSON_VALUES) {
            const item = { ...(validValue(inner.items, prop) as Record<string, unknown>), [itemProp]: bad };
            probes.push({
              ...base,
              target: fill(),
              body: JSON.stringify({ ...valid, [prop]: [item] }),
              what: `body ${prop}[0].${itemProp}=${JSON.stringify(bad).slice(0, 30)}`,
            });
          }
        }
      }
    }
    probes.push({
      ...base,
      target: fill(),
      body: JSON.stringify({ ...valid, unexpected: 1 }),
      what: 'body with an unknown property',
    });
    const open = openBodies[`${method} ${path}`];
    if (open !== undefined) {
      for (const m of leafMutations(open, LEAF_BADS))
        probes.push({ ...base, target: fill(), body: JSON.stringify(m.value), what: `leaf ${m.path}` });
    }
    if (props.length === 0)
      for (const bad of BAD_JSON_VALUES)
        probes.push({
          ...base,
          target: fill(),
          body: JSON.stringify({ document: bad, anything: bad }),
          what: `free body ${JSON.stringify(bad).slice(0, 30)}`,
        });
  }
  if (method !== 'GET' && method !== 'DELETE')
    for (const [contentType, body] of RAW_BODIES)
      probes.push({ method, target: fill(), contentType, body, what: `raw ${contentType} ${body.slice(0, 20)}` });
  return probes;
}

describe(`the API under hostile input (${backend})`, () => {
  test('no route answers 5xx, and no refused request changes anything', async () => {
    const doc = (await c.api('GET', '/docs/json')).body as { paths: Record<string, Record<string, Operation>> };
    const serverErrors: string[] = [];
    const changedWhenRefused: string[] = [];
    let sent = 0;
    const send = async (path: string, probe: Probe) => {
      const headers: Record<string, string> = probe.contentType ? { 'content-type': probe.contentType } : {};
      const response = await rawRequest(port, probe.method, probe.target, headers, probe.body ?? '');
      sent++;
      const label = `${probe.method} ${path} [${probe.what}] → ${response.status}`;
      if (response.status >= 500) serverErrors.push(`${label} ${response.body.slice(0, 160)}`);
      // A refused request changes nothing; neither does any read.
      return { changesNothing: response.status >= 400 || probe.method === 'GET' || probe.method === 'HEAD', label };
    };
    // The tables are compared around each run of requests that must change nothing (refused ones,
    // and reads), not each one: a fingerprint costs more than a request. A write that succeeds in a
    // run spoils the comparison: once its work has settled, the requests of the run before it are sent
    // again, each between two fingerprints; so are those of a run whose comparison shows a change, to
    // name the request.
    let before = await quiet();
    const oneByOne = async (path: string, probes: Probe[]) => {
      before = await fingerprint();
      for (const probe of probes) {
        const { changesNothing, label } = await send(path, probe);
        const after = changesNothing ? await fingerprint() : await quiet();
        if (changesNothing && after !== before) changedWhenRefused.push(`${label}: ${diff(before, after)}`);
        before = after;
      }
    };
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(operations)) {
        let run: Probe[] = [];
        for (const probe of probesFor(path, method.toUpperCase(), op)) {
          if ((await send(path, probe)).changesNothing) {
            run.push(probe);
            // A checkpoint now and then keeps the requests to send again after a success few.
            if (run.length === 8) {
              if ((await fingerprint()) !== before) await oneByOne(path, run);
              run = [];
            }
            continue;
          }
          before = await quiet();
          await oneByOne(path, run);
          run = [];
        }
        if (run.length > 0 && (await fingerprint()) !== before) await oneByOne(path, run);
      }
    }
    console.info(`[fuzz] ${sent} requests over ${Object.keys(doc.paths).length} paths`);
    expect(sent).toBeGreaterThan(2000);
    expect({ serverErrors, changedWhenRefused }).toEqual({ serverErrors: [], changedWhenRefused: [] });
  }, 600_000);
});

describe(`bodies keep their JSON types (${backend})`, () => {
  test('a number sent as text, a boolean or an array, and a code sent as a list, are refused, not coerced', async () => {
    const facility = known['facility']!;
    const cases: Array<[string, string, unknown]> = [
      ['PUT', '/api/v1/inventory/safety-stock', { sku: known['sku'], facility, quantity: '3' }],
      ['PUT', '/api/v1/inventory/safety-stock', { sku: known['sku'], facility, quantity: true }],
      ['PUT', '/api/v1/inventory/safety-stock', { sku: known['sku'], facility, quantity: [2] }],
      ['PUT', '/api/v1/inventory/safety-stock', { sku: known['sku'], facility: [facility], quantity: 2 }],
      ['PATCH', `/api/v1/facilities/${facility}`, { brokeringPriority: '5' }],
      ['PATCH', `/api/v1/facilities/${facility}`, { canShip: 'true' }],
      ['PATCH', `/api/v1/facilities/${facility}`, { dailyOrderCapacity: [10] }],
      ['PUT', '/api/v1/jobs/housekeeping.prune-history/schedule', { enabled: 1 }],
      ['POST', `/api/v1/orders/${known['id']}/lines/${known['lineId']}/hold`, { held: 'false' }],
    ];
    const before = await quiet();
    for (const [method, path, body] of cases) {
      const { status, body: answer } = await c.api(method, path, body);
      expect({ path, body, status, code: answer.error?.code }).toEqual({
        path,
        body,
        status: 400,
        code: 'request.invalid',
      });
    }
    expect(await fingerprint()).toBe(before);
    // Query strings and paths are text: their numbers are still read as numbers.
    expect((await c.api('GET', '/api/v1/orders?limit=2')).status).toBe(200);
  });
});

function diff(a: string, b: string): string {
  const left = new Map(a.split(' ').map((p) => p.split('=') as [string, string]));
  return b
    .split(' ')
    .map((p) => p.split('=') as [string, string])
    .filter(([t, h]) => left.get(t) !== h)
    .map(([t]) => t)
    .join(', ');
}

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { sql } from 'drizzle-orm';
import { Type } from 'typebox';
import type { App, AppDeps, ErrorBody } from './app.js';
import {
  checkFileName,
  DEFAULT_IMPORT_LIMITS,
  deleteSafetyStockRule,
  explainSkuAtp,
  importCountFile,
  listSafetyStockRules,
  MAX_VARIANCE_UNITS,
  putSafetyStockRule,
  recordVariance,
  setOnlineChannel,
  setProductSafetyStock,
  shopifySideOf,
  VARIANCE_KINDS,
  VARIANCE_TEXT_LIMITS,
  type ImportLimits,
  type ImportReport,
  type VarianceKind,
} from '../domains/inventory/index.js';
import { queryRows } from '../platform/db/rows.js';
import { invalid, notFound } from '../platform/errors.js';
import { Code, Id, Sku, Units } from './schemas.js';

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

/** Count file bounds (config: SWITCHYARD_IMPORT_MAX_*), and where uploads are spooled (one folder each, removed after). */
export interface InventoryImportSettings extends ImportLimits {
  uploadDir: string;
}

const bytes = (n: number) => `${n.toLocaleString('en-US')} bytes`;

/**
 * Streams an upload to `file`, stopping as soon as it passes `max` bytes. Returns the bytes received,
 * or null when the upload was too large (the request is then left unread: the answer closes the
 * connection).
 */
async function spool(body: Readable, file: string, max: number): Promise<number | null> {
  const out = createWriteStream(file);
  let received = 0;
  try {
    // Not destroyed on a break: destroying the request would drop the connection before the answer.
    for await (const chunk of body.iterator({ destroyOnReturn: false })) {
      received += (chunk as Buffer).length;
      if (received > max) return null;
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    return received;
  } finally {
    out.destroy();
  }
}

export function registerInventoryRoutes(app: App, deps: AppDeps): void {
  registerStockRoutes(app, deps);
  registerImportRoutes(app, deps);
  registerStockSettingRoutes(app, deps);
  registerPublishLogRoutes(app, deps);
}

/** A SKU's stock and ATP, explained; variances recorded. */
function registerStockRoutes(app: App, deps: AppDeps): void {
  const db = deps.database.db;
  app.get(
    '/api/v1/inventory/:sku',
    {
      schema: {
        summary:
          "Explains a SKU's available-to-promise: every term per facility, the online figure, and what was last published to each Shopify location",
        tags: ['inventory'],
        params: Type.Object({ sku: Sku() }),
      },
    },
    async (request) => {
      const { atp, variantId, title, sku } = await explainSkuAtp(db, request.params.sku);
      const [variant] = await queryRows<{ shopify_inventory_item_id: string | null }>(
        db,
        sql`select shopify_inventory_item_id from variants where id = ${variantId}`,
      );
      const locations = variant?.shopify_inventory_item_id
        ? await shopifySideOf(db, variant.shopify_inventory_item_id)
        : [];
      const facilities = await queryRows<{
        id: number;
        code: string;
        shopify_location_id: string | null;
        publish_mode: string;
      }>(
        db,
        sql`select id, code, shopify_location_id, publish_mode from facilities where shopify_location_id is not null order by id`,
      );
      return {
        sku,
        title,
        formula: {
          facility: 'max(0, on hand − reserved − safety stock); 0 when the facility does not broker',
          online:
            'max(0, Σ facility ATP of channel facilities not excluded − channel threshold − units waiting in queues)',
        },
        facilities: atp.facilities.map((f) => ({
          facility: f.facilityCode,
          kind: f.kind,
          onHand: f.onHand,
          reserved: f.reserved,
          safetyStock: f.safetyStock,
          safetyStockFrom: f.safetySource,
          brokering: f.brokeringEnabled,
          inOnlineChannel: f.inChannel,
          excludedFromOnlineAtp: f.excludedFromOnlineAtp,
          pickupsWaiting: f.pickupDemand,
          atp: f.atp,
          countsOnline: f.countsOnline,
        })),
        online: {
          facilityAtpSum: atp.facilityAtpSum,
          channelThreshold: atp.channelThreshold,
          queueDemand: atp.queueDemand,
          atp: atp.onlineAtp,
        },
        shopify: locations.map((l) => {
          const facility = facilities.find((f) => f.shopify_location_id === l.locationId);
          return {
            locationId: l.locationId,
            facility: facility?.code ?? null,
            publishMode: facility?.publish_mode ?? 'none',
            available: l.available,
            committed: l.committed,
            confirmedAt: iso(l.confirmedAt),
            lastPublished: l.lastPublished,
            lastPublishedAt: iso(l.lastPublishedAt),
          };
        }),
      };
    },
  );

  app.post(
    '/api/v1/inventory/variances',
    {
      schema: {
        summary:
          'Records found or damaged stock at a facility, with a reason (a ledger entry). Refused with nothing written: occurredAt in the future (beyond 5 minutes) or before 2000, a quantity of 0 or past ±1,000,000, taking more than is on hand',
        tags: ['inventory'],
        body: Type.Object(
          {
            facility: Type.String({ minLength: 1, maxLength: VARIANCE_TEXT_LIMITS.facility }),
            sku: Type.String({ minLength: 1, maxLength: VARIANCE_TEXT_LIMITS.sku }),
            kind: Type.Union(VARIANCE_KINDS.map((k) => Type.Literal(k))),
            quantity: Type.Integer({ minimum: -MAX_VARIANCE_UNITS, maximum: MAX_VARIANCE_UNITS }),
            reason: Type.String({ minLength: 1, maxLength: VARIANCE_TEXT_LIMITS.reason }),
            occurredAt: Type.Optional(Type.String({ format: 'date-time', maxLength: 64 })),
            idempotencyKey: Type.Optional(
              Type.String({ minLength: 1, maxLength: VARIANCE_TEXT_LIMITS.idempotencyKey }),
            ),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const b = request.body;
      const result = await recordVariance(
        db,
        {
          facility: b.facility,
          sku: b.sku,
          kind: b.kind as VarianceKind,
          quantity: b.quantity,
          reason: b.reason,
          ...(b.occurredAt ? { occurredAt: new Date(b.occurredAt) } : {}),
          ...(b.idempotencyKey ? { idempotencyKey: b.idempotencyKey } : {}),
        },
        deps.clock.now(),
      );
      deps.requestJob?.('inventory.publish');
      return reply.status(result.replayed ? 200 : 201).send(result);
    },
  );

  // Count files arrive as the raw body (text/csv or application/x-ndjson), streamed to a file in the
  // upload folder: a million rows never sit in memory, and nothing past the upload limit is kept.
}

/** ERP count files uploaded, checked and applied; their reports. */
function registerImportRoutes(app: App, deps: AppDeps): void {
  const db = deps.database.db;
  const imports: InventoryImportSettings = deps.imports ?? { ...DEFAULT_IMPORT_LIMITS, uploadDir: tmpdir() };
  void app.register(async (plain) => {
    const scope = plain as unknown as App;
    scope.addContentTypeParser(['text/csv', 'application/x-ndjson', 'application/jsonl'], (_request, payload, done) =>
      done(null, payload),
    );
    scope.post(
      '/api/v1/inventory/imports',
      {
        schema: {
          summary: `Imports an ERP count file (CSV or JSON Lines). A file with errors applies nothing unless perRow=true. Lines longer than ${bytes(imports.maxLineBytes)} are reported and skipped; an upload over ${bytes(imports.maxUploadBytes)} is refused (413)`,
          tags: ['inventory'],
          querystring: Type.Object(
            {
              fileName: Type.String({ minLength: 1, maxLength: 1000, default: 'upload' }),
              perRow: Type.Boolean({ default: false }),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (request, reply) => {
        const type = String(request.headers['content-type'] ?? '')
          .split(';')[0]!
          .trim();
        const format =
          type === 'text/csv'
            ? 'csv'
            : type === 'application/x-ndjson' || type === 'application/jsonl'
              ? 'jsonl'
              : undefined;
        if (!format)
          throw invalid('inventory.import_content_type', 'Send the file as text/csv or application/x-ndjson.');
        checkFileName(request.query.fileName);
        const tooLarge = (details: { contentLength: number } | { receivedMoreThan: number }) => {
          const body: ErrorBody = {
            error: {
              code: 'inventory.import_too_large',
              message: `The upload is larger than ${bytes(imports.maxUploadBytes)} (SWITCHYARD_IMPORT_MAX_UPLOAD_BYTES): nothing was imported. Split the file, or raise the limit.`,
              details: { maxUploadBytes: imports.maxUploadBytes, ...details },
            },
          };
          // The rest of the body is not read: close the connection after the answer.
          return reply.status(413).header('connection', 'close').send(body);
        };
        const declared = Number(request.headers['content-length']);
        if (declared > imports.maxUploadBytes) return tooLarge({ contentLength: declared });
        await mkdir(imports.uploadDir, { recursive: true });
        const dir = await mkdtemp(path.join(imports.uploadDir, 'import-'));
        let report: ImportReport | null;
        try {
          const file = path.join(dir, 'upload');
          const received = await spool(request.body as unknown as Readable, file, imports.maxUploadBytes);
          report =
            received === null
              ? null
              : await importCountFile(db, {
                  path: file,
                  fileName: request.query.fileName,
                  format,
                  perRow: request.query.perRow,
                  source: 'upload',
                  now: () => deps.clock.now(),
                  maxLineBytes: imports.maxLineBytes,
                });
        } finally {
          // Removed before the answer: once the client has it, nothing of the upload is left.
          await rm(dir, { recursive: true, force: true });
        }
        if (!report) return tooLarge({ receivedMoreThan: imports.maxUploadBytes });
        if (report.status === 'applied') deps.requestJob?.('inventory.publish');
        return reply.status(report.status === 'applied' ? 201 : 422).send(report);
      },
    );
  });

  app.get(
    '/api/v1/inventory/imports/:id',
    {
      schema: {
        summary: 'One count file import: counts and every bad row (the first 1,000)',
        tags: ['inventory'],
        params: Type.Object({ id: Id() }),
      },
    },
    async (request) => {
      const [row] = await queryRows<Record<string, unknown>>(
        db,
        sql`select * from inventory_imports where id = ${request.params.id}`,
      );
      if (!row) throw notFound('inventory.unknown_import', `No import ${request.params.id}.`);
      return row;
    },
  );
}

/** Safety stock (per level and by tag) and the online channel. */
function registerStockSettingRoutes(app: App, deps: AppDeps): void {
  const db = deps.database.db;
  app.put(
    '/api/v1/inventory/safety-stock',
    {
      schema: {
        summary:
          'Safety stock for one SKU at one facility (null clears it: tag rules and the facility default apply again)',
        tags: ['inventory'],
        body: Type.Object(
          { sku: Sku(), facility: Code(), quantity: Type.Union([Units(0), Type.Null()]) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      await setProductSafetyStock(db, request.body, deps.clock.now());
      deps.requestJob?.('inventory.publish');
      return { ok: true };
    },
  );

  app.get(
    '/api/v1/inventory/safety-stock-rules',
    { schema: { summary: 'Safety stock rules by product tag', tags: ['inventory'] } },
    async () => ({
      rules: await listSafetyStockRules(db),
    }),
  );

  app.put(
    '/api/v1/inventory/safety-stock-rules',
    {
      schema: {
        summary: 'Creates or replaces the rule for a tag (and facility, or every facility when facility is null)',
        tags: ['inventory'],
        body: Type.Object(
          {
            tag: Type.String({ minLength: 1, maxLength: 255 }),
            facility: Type.Union([Code(), Type.Null()]),
            quantity: Units(0),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const rule = await putSafetyStockRule(db, request.body, deps.clock.now());
      deps.requestJob?.('inventory.publish');
      return rule;
    },
  );

  app.delete(
    '/api/v1/inventory/safety-stock-rules/:id',
    { schema: { summary: 'Deletes a safety stock rule', tags: ['inventory'], params: Type.Object({ id: Id() }) } },
    async (request, reply) => {
      await deleteSafetyStockRule(db, request.params.id, deps.clock.now());
      deps.requestJob?.('inventory.publish');
      return reply.status(204).send();
    },
  );

  app.put(
    '/api/v1/inventory/online-channel',
    {
      schema: {
        summary: 'The online channel: units held back from its ATP (threshold) and which facilities sell online',
        tags: ['inventory'],
        body: Type.Object(
          {
            threshold: Type.Optional(Units(0)),
            facilities: Type.Optional(Type.Array(Code(), { uniqueItems: true, maxItems: 1000 })),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
      },
    },
    async (request) => {
      const channel = await setOnlineChannel(db, request.body, deps.clock.now());
      deps.requestJob?.('inventory.publish');
      return channel;
    },
  );
}

/** What was sent to Shopify, call by call. */
function registerPublishLogRoutes(app: App, deps: AppDeps): void {
  const db = deps.database.db;
  app.get(
    '/api/v1/inventory/publish-log',
    {
      schema: {
        summary:
          'What was sent to Shopify, when, and its answer (newest first); the backlog: variants waiting to be published, calls still without an answer',
        tags: ['inventory'],
        querystring: Type.Object(
          { limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const rows = await queryRows<{
        id: number;
        at: Date;
        method: string;
        idempotency_key: string;
        outcome: string;
        quantities: unknown;
        response: unknown;
        duration_ms: number;
      }>(
        db,
        sql`select id, at, method, idempotency_key, outcome, quantities, response, duration_ms from inventory_publish_log order by id desc limit ${request.query.limit}`,
      );
      const [backlog] = await queryRows<{ waiting: number; sending: number }>(
        db,
        sql`select (select count(*)::int from inventory_publish_queue) as waiting, (select count(*)::int from inventory_publish_log where outcome = 'sending') as sending`,
      );
      return {
        backlog: { variantsWaiting: backlog!.waiting, callsWithoutAnswer: backlog!.sending },
        entries: rows.map((r) => ({
          id: r.id,
          at: r.at.toISOString(),
          method: r.method,
          idempotencyKey: r.idempotency_key,
          outcome: r.outcome,
          quantities: r.quantities,
          response: r.response,
          durationMs: r.duration_ms,
        })),
      };
    },
  );
}

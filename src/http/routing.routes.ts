import { Type } from 'typebox';
import type { App, AppDeps } from './app.js';
import { findOrder } from './orders.routes.js';
import {
  activateVersion,
  checkRuleDocument,
  createDraft,
  defaultRuleDocument,
  deleteDraft,
  getRuleVersion,
  listRejectionReasons,
  listRuleVersions,
  MAX_REPLAY_ORDERS,
  orderLineLocations,
  orderRoutingHistory,
  putRejectionReason,
  queueLines,
  queueSummary,
  rejectLine,
  getReplay,
  requestReplay,
  rollbackRules,
  runBrokering,
  setLineHold,
  updateDraft,
  type RuleVersionRow,
} from '../domains/routing/index.js';
import { invalid } from '../platform/errors.js';
import { Code, DateTime, Id, OrderRef, Text } from './schemas.js';

const versionView = (v: RuleVersionRow) => ({
  id: v.id,
  name: v.name,
  status: v.status,
  note: v.note,
  basedOnId: v.basedOnId,
  createdBy: v.createdBy,
  createdAt: v.createdAt.toISOString(),
  updatedAt: v.updatedAt.toISOString(),
  activatedAt: v.activatedAt?.toISOString() ?? null,
  archivedAt: v.archivedAt?.toISOString() ?? null,
  document: v.document,
});

const IdParams = Type.Object({ id: Id() });
const LineParams = Type.Object({ id: OrderRef(), lineId: Id() });

const orderIdOf = async (deps: AppDeps, id: string) => (await findOrder(deps, id)).id;

type Trace = {
  scarcity: number;
  split: string | null;
  rules: Array<{
    rule: string;
    candidates: number;
    outcome: string;
    removed: Array<{ filter: string; reason: string; facilities: string[]; count?: number }>;
    scores: Array<{
      facility: string;
      score: number;
      distanceKm: number | null;
      covers: number;
      parts: Record<string, number>;
    }>;
  }>;
};

/** A decision trace in a merchant's words. */
function explain(trace: Trace) {
  return trace.rules.map((r) => ({
    rule: r.rule,
    outcome: r.outcome,
    candidatesLeft: r.candidates,
    removed: r.removed.map((x) =>
      x.facilities.length === 0
        ? `${x.count ?? 0} facilities: ${x.reason}`
        : x.count !== undefined && x.count > x.facilities.length
          ? `${x.facilities.join(', ')} and ${x.count - x.facilities.length} more: ${x.reason}`
          : `${x.facilities.join(', ')}: ${x.reason}`,
    ),
    scores: r.scores.map(
      (s) =>
        `${s.facility}: score ${s.score} (${s.distanceKm === null ? 'distance unknown' : `${s.distanceKm} km`}, can take ${s.covers} unit(s), ` +
        `capacity ${Math.round((s.parts['capacityHeadroom'] ?? 0) * 100)}% free, priority ${Math.round((s.parts['facilityPriority'] ?? 0) * 100) / 100})`,
    ),
  }));
}

export function registerRoutingRoutes(app: App, deps: AppDeps): void {
  registerRuleVersionRoutes(app, deps);
  registerRunAndQueueRoutes(app, deps);
  registerOrderLineRoutes(app, deps);
  registerReplayRoutes(app, deps);
}

/** Rule documents: versions, validation, activation, rollback. */
function registerRuleVersionRoutes(app: App, deps: AppDeps): void {
  const db = deps.database.db;
  const now = () => deps.clock.now();
  app.get(
    '/api/v1/routing/versions',
    { schema: { summary: 'Rule versions (drafts, the active one, archived), newest first', tags: ['routing'] } },
    async () => ({
      versions: (await listRuleVersions(db)).map(versionView),
    }),
  );

  app.get(
    '/api/v1/routing/default-rules',
    { schema: { summary: 'The default rule document a new shop starts with', tags: ['routing'] } },
    async () => defaultRuleDocument(),
  );

  app.post(
    '/api/v1/routing/validate',
    {
      schema: {
        summary: 'Checks a rule document without saving it; lists every problem with its path',
        tags: ['routing'],
        body: Type.Unknown(),
      },
    },
    async (request) => {
      const result = await checkRuleDocument(db, request.body);
      return result.ok
        ? { valid: true, problems: [], document: result.document }
        : { valid: false, problems: result.problems };
    },
  );

  app.post(
    '/api/v1/routing/versions',
    {
      schema: {
        summary: 'Creates a draft: the given document, or a copy of the active rules',
        tags: ['routing'],
        body: Type.Object(
          {
            name: Text(200),
            note: Type.Optional(Type.String({ maxLength: 2000 })),
            document: Type.Optional(Type.Unknown()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) =>
      reply.status(201).send(versionView(await createDraft(db, { ...request.body, by: 'api' }, now()))),
  );

  app.get(
    '/api/v1/routing/versions/:id',
    { schema: { summary: 'One rule version', tags: ['routing'], params: IdParams } },
    async (request) => versionView(await getRuleVersion(db, request.params.id)),
  );

  app.put(
    '/api/v1/routing/versions/:id',
    {
      schema: {
        summary: 'Changes a draft (name, note, document); active and archived versions do not change',
        tags: ['routing'],
        params: IdParams,
        body: Type.Object(
          {
            name: Type.Optional(Text(200)),
            note: Type.Optional(Type.String({ maxLength: 2000 })),
            document: Type.Optional(Type.Unknown()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
      },
    },
    async (request) => versionView(await updateDraft(db, request.params.id, request.body, now())),
  );

  app.delete(
    '/api/v1/routing/versions/:id',
    { schema: { summary: 'Deletes a draft', tags: ['routing'], params: IdParams } },
    async (request, reply) => {
      await deleteDraft(db, request.params.id);
      return reply.status(204).send();
    },
  );

  app.post(
    '/api/v1/routing/versions/:id/activate',
    {
      schema: {
        summary:
          'Makes this version the active rules (the current ones are archived); activating an archived version rolls back to it',
        tags: ['routing'],
        params: IdParams,
      },
    },
    async (request) => versionView(await activateVersion(db, request.params.id, now())),
  );

  app.post(
    '/api/v1/routing/rollback',
    { schema: { summary: 'Re-activates the version that was active before the current one', tags: ['routing'] } },
    async () => versionView(await rollbackRules(db, now())),
  );
}

/** Routing runs on demand, the queues, rejection reasons. */
function registerRunAndQueueRoutes(app: App, deps: AppDeps): void {
  const now = () => deps.clock.now();
  const db = deps.database.db;
  app.post(
    '/api/v1/routing/runs',
    {
      schema: {
        summary: 'Routes the waiting orders now (every run of the active rules, or one)',
        tags: ['routing'],
        body: Type.Object({ run: Type.Optional(Code()) }, { additionalProperties: false }),
      },
    },
    async (request) => {
      const counts = await runBrokering(db, {
        runs: request.body.run ? { code: request.body.run } : 'all',
        trigger: 'api',
        now,
      });
      deps.requestJob?.('inventory.publish');
      return counts;
    },
  );

  app.get(
    '/api/v1/routing/queues',
    { schema: { summary: 'Lines waiting or parked, per queue', tags: ['routing'] } },
    async () => ({ queues: await queueSummary(db) }),
  );

  app.get(
    '/api/v1/routing/queues/:queue',
    {
      schema: {
        summary: 'The lines in one queue, oldest order first, with the last routing decision',
        tags: ['routing'],
        params: Type.Object({ queue: Code() }),
        querystring: Type.Object(
          { limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => ({
      queue: request.params.queue,
      lines: await queueLines(db, request.params.queue, request.query.limit),
    }),
  );

  app.get(
    '/api/v1/routing/rejection-reasons',
    {
      schema: {
        summary: 'Reasons a store can give for rejecting a line, and what each does to its stock',
        tags: ['routing'],
      },
    },
    async () => ({
      reasons: await listRejectionReasons(db),
    }),
  );

  app.put(
    '/api/v1/routing/rejection-reasons/:code',
    {
      schema: {
        summary: 'Creates or changes a rejection reason',
        tags: ['routing'],
        params: Type.Object({ code: Code() }),
        body: Type.Object(
          {
            label: Text(200),
            stockEffect: Code(),
            collateral: Type.Optional(Type.Boolean()),
            active: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => putRejectionReason(db, request.params.code, request.body),
  );
}

/** An order line rejected or held; how an order was routed. */
function registerOrderLineRoutes(app: App, deps: AppDeps): void {
  const db = deps.database.db;
  const now = () => deps.clock.now();
  app.post(
    '/api/v1/orders/:id/lines/:lineId/reject',
    {
      schema: {
        summary: 'A facility rejects a line it was given; the line is re-routed at once without that facility',
        tags: ['routing'],
        params: LineParams,
        body: Type.Object(
          {
            facility: Code(),
            reason: Code(),
            note: Type.Optional(Type.String({ maxLength: 2000 })),
            collateral: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      const orderId = await orderIdOf(deps, request.params.id);
      const result = await rejectLine(
        db,
        {
          orderId,
          lineId: request.params.lineId,
          facilityCode: request.body.facility,
          reason: request.body.reason,
          ...(request.body.note ? { note: request.body.note } : {}),
          ...(request.body.collateral !== undefined ? { collateral: request.body.collateral } : {}),
          by: 'api',
        },
        now(),
      );
      const rerouted = await runBrokering(db, {
        runs: 'all',
        orderIds: result.affectedOrderIds,
        trigger: `rejection:${request.body.reason}`,
        now,
      });
      deps.requestJob?.('inventory.publish');
      const decisions = await Promise.all(
        result.affectedOrderIds.map(async (id) => ({
          orderId: id,
          decision: (await orderRoutingHistory(db, id)).at(-1)?.summary ?? null,
        })),
      );
      return {
        ...result,
        rerouted: { orders: rerouted.orders, linesRouted: rerouted.linesRouted, linesParked: rerouted.linesParked },
        decisions,
      };
    },
  );

  app.post(
    '/api/v1/orders/:id/lines/:lineId/hold',
    {
      schema: {
        summary: 'Holds a line (never auto-cancelled) or releases the hold',
        tags: ['routing'],
        params: LineParams,
        body: Type.Object({ held: Type.Boolean() }, { additionalProperties: false }),
      },
    },
    async (request) =>
      setLineHold(db, await orderIdOf(deps, request.params.id), request.params.lineId, request.body.held, 'api', now()),
  );

  app.get(
    '/api/v1/orders/:id/routing',
    {
      schema: {
        summary:
          'Why each line of the order is where it is: every routing decision with its candidates, filters, scores and splits',
        tags: ['routing'],
        params: Type.Object({ id: OrderRef() }),
      },
    },
    async (request) => {
      const orderId = await orderIdOf(deps, request.params.id);
      const lines = await orderLineLocations(db, orderId);
      const history = await orderRoutingHistory(db, orderId);
      return {
        orderId,
        lines: lines.map((l) => ({
          id: l.id,
          sku: l.sku,
          quantity: l.quantity,
          status: l.status,
          where: l.code === null ? 'not routed yet' : l.kind === 'VIRTUAL' ? `waiting in ${l.code}` : `at ${l.code}`,
          held: l.held,
          autoCancelAt: l.auto_cancel_at?.toISOString() ?? null,
          rejectedBy: l.excluded ?? [],
        })),
        decisions: history.map((d) => {
          const trace = d.trace as Trace;
          return {
            at: d.at.toISOString(),
            run: d.run_code,
            routing: d.routing,
            trigger: d.trigger,
            rulesVersion: d.version_id,
            summary: d.summary,
            split: trace.split,
            servedEarlyBecauseScarce: `${trace.scarcity} facilit${trace.scarcity === 1 ? 'y' : 'ies'} could take the whole order when the run started`,
            assignments: d.assignments,
            parked: d.parked,
            rules: explain(trace),
          };
        }),
      };
    },
  );
}

/** What-if replays of past orders under other rules. */
function registerReplayRoutes(app: App, deps: AppDeps): void {
  const db = deps.database.db;
  const now = () => deps.clock.now();
  app.post(
    '/api/v1/routing/replay',
    {
      schema: {
        summary: `What-if: queues a replay of past orders (or generated ones, at most ${MAX_REPLAY_ORDERS.toLocaleString('en-US')}) under a draft and under the active rules, in memory; answers 202 with the replay to poll`,
        tags: ['routing'],
        body: Type.Object(
          {
            draftId: Id(),
            baselineId: Type.Optional(Id()),
            from: Type.Optional(DateTime()),
            to: Type.Optional(DateTime()),
            generated: Type.Optional(
              Type.Object(
                {
                  orders: Type.Integer({ minimum: 1, maximum: MAX_REPLAY_ORDERS }),
                  seed: Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }),
                },
                { additionalProperties: false },
              ),
            ),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const b = request.body;
      if (!b.generated && (!b.from || !b.to))
        throw invalid('routing.replay_period', 'Give a period (from and to) or generated: { orders, seed }.', {
          field: 'from',
        });
      const queued = await requestReplay(
        db,
        {
          candidateId: b.draftId,
          ...(b.baselineId ? { baselineId: b.baselineId } : {}),
          ...(b.from ? { from: new Date(b.from) } : {}),
          ...(b.to ? { to: new Date(b.to) } : {}),
          ...(b.generated ? { generated: b.generated } : {}),
        },
        'api',
        now(),
      );
      deps.requestJob?.('routing.replay');
      return reply.status(202).header('location', `/api/v1/routing/replays/${queued.id}`).send(queued);
    },
  );

  app.get(
    '/api/v1/routing/replays/:id',
    {
      schema: {
        summary:
          'A what-if replay: queued, running (with progress), succeeded (with the comparison) or failed (with why)',
        tags: ['routing'],
        params: IdParams,
      },
    },
    async (request) => getReplay(db, request.params.id),
  );
}

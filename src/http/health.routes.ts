import { Type } from 'typebox';
import type { App, AppDeps } from './app.js';

const HealthSchema = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  role: Type.String(),
  version: Type.String(),
  uptimeSeconds: Type.Number(),
  database: Type.Object({
    kind: Type.String(),
    reachable: Type.Boolean(),
    migrationsVersion: Type.Union([Type.String(), Type.Null()]),
    migrationsApplied: Type.Integer(),
    migrationsPending: Type.Integer(),
  }),
});

export function registerHealthRoutes(app: App, deps: AppDeps): void {
  app.get(
    '/health',
    {
      config: { access: 'public' },
      schema: {
        summary: 'Liveness and readiness: database reachable and migrated',
        tags: ['operations'],
        response: {
          200: HealthSchema,
          503: HealthSchema,
        },
      },
    },
    async (_request, reply) => {
      const uptimeSeconds = Math.round((deps.clock.now().getTime() - deps.startedAt.getTime()) / 100) / 10;
      const base = { role: deps.role, version: deps.version, uptimeSeconds };
      try {
        const status = await deps.database.migrationStatus();
        const pending = status.available - status.applied;
        return reply.status(pending === 0 ? 200 : 503).send({
          status: pending === 0 ? 'ok' : 'unavailable',
          ...base,
          database: {
            kind: deps.database.kind,
            reachable: true,
            migrationsVersion: status.version,
            migrationsApplied: status.applied,
            migrationsPending: pending,
          },
        });
      } catch (error) {
        reply.log.warn({ err: error }, 'health check: database unreachable');
        return reply.status(503).send({
          status: 'unavailable',
          ...base,
          database: {
            kind: deps.database.kind,
            reachable: false,
            migrationsVersion: null,
            migrationsApplied: 0,
            migrationsPending: 0,
          },
        });
      }
    },
  );

  // Business volumes and internals: for the monitoring system, with the API credential.
  app.get('/metrics', { config: { access: 'api' }, schema: { hide: true } }, async (_request, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}

import { Type } from 'typebox';
import type { App, AppDeps } from './app.js';
import {
  listFacilities,
  updateFacilitySettings,
  PUBLISH_MODES,
  type FacilityRow,
} from '../domains/facilities/index.js';
import { markAllVariantsChanged } from '../domains/inventory/index.js';
import { Code, MAX_UNITS, Units } from './schemas.js';

function view(f: FacilityRow) {
  return {
    code: f.code,
    name: f.name,
    kind: f.kind,
    queueKind: f.queueKind,
    shopifyLocationId: f.shopifyLocationId,
    publishMode: f.publishMode,
    brokeringEnabled: f.brokeringEnabled,
    excludedFromOnlineAtp: f.excludedFromOnlineAtp,
    defaultSafetyStock: f.defaultSafetyStock,
    dailyOrderCapacity: f.dailyOrderCapacity,
    brokeringPriority: f.brokeringPriority,
    canShip: f.canShip,
    canPickup: f.canPickup,
    canExpress: f.canExpress,
    timeZone: f.timeZone,
    latitude: f.latitude,
    longitude: f.longitude,
    active: f.active,
  };
}

export function registerFacilityRoutes(app: App, deps: AppDeps): void {
  app.get(
    '/api/v1/facilities',
    { schema: { summary: 'Warehouses, stores and queues with their settings', tags: ['facilities'] } },
    async () => ({
      facilities: (await listFacilities(deps.database.db)).map(view),
    }),
  );

  app.patch(
    '/api/v1/facilities/:code',
    {
      schema: {
        summary:
          "Changes a facility's settings: publishing mode (none, aggregate, mirror), brokering, online ATP exclusion, safety stock default, capacity, priority",
        tags: ['facilities'],
        params: Type.Object({ code: Code() }),
        body: Type.Object(
          {
            publishMode: Type.Optional(Type.Union(PUBLISH_MODES.map((m) => Type.Literal(m)))),
            brokeringEnabled: Type.Optional(Type.Boolean()),
            excludedFromOnlineAtp: Type.Optional(Type.Boolean()),
            defaultSafetyStock: Type.Optional(Units(0)),
            dailyOrderCapacity: Type.Optional(
              Type.Union([Units(0, { description: 'orders a local day' }), Type.Null()]),
            ),
            brokeringPriority: Type.Optional(
              Type.Integer({ minimum: -MAX_UNITS, maximum: MAX_UNITS, description: 'higher is preferred' }),
            ),
            canShip: Type.Optional(Type.Boolean()),
            canPickup: Type.Optional(Type.Boolean()),
            canExpress: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false, minProperties: 1 },
        ),
      },
    },
    async (request) => {
      const updated = await updateFacilitySettings(
        deps.database.db,
        request.params.code,
        request.body,
        deps.clock.now(),
      );
      // Every SKU's ATP may have moved: republish.
      await markAllVariantsChanged(deps.database.db, deps.clock.now());
      deps.requestJob?.('inventory.publish');
      return view(updated);
    },
  );
}

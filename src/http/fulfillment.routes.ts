// Store work over HTTP, scoped to one facility: what is open, and each step of a shipment or pickup.
import { Type } from 'typebox';
import type { App, AppDeps } from './app.js';
import { findOrder } from './orders.routes.js';
import { notFound } from '../platform/errors.js';
import { Code, DateTime, Id, OrderRef, Text, Units } from './schemas.js';
import {
  acknowledgePutBack,
  cancelShipment,
  facilityWork,
  fulfillmentSettings,
  updateFulfillmentSettings,
  getShipment,
  handOver,
  markReadyForPickup,
  packShipment,
  shipShipment,
  startShipment,
  checkStillOwed,
} from '../domains/fulfillment/index.js';

const FacilityParams = Type.Object({ facility: Code() });
const ShipmentParams = Type.Object({ facility: Code(), id: Id() });
const PUSH_JOB = 'fulfillment.push';

/** What every store step does besides its own work: tell Shopify soon, and check first that it still owes the units. */
function stepHelpers(deps: AppDeps) {
  const db = deps.database.db;
  // Shopify hears of each step at once (the job's schedule is the safety net).
  const pushSoon = <T>(value: T): T => {
    deps.requestJob?.(PUSH_JOB);
    deps.requestJob?.('inventory.publish');
    return value;
  };
  // Units leave only if Shopify still owes them (when a change Switchyard has not heard of is possible).
  const confirmStillOwed = async (
    facility: string,
    shipmentId: number,
    kind: 'ship' | 'pickup',
    from: 'packed' | 'ready',
  ) => {
    const owedUnitsOf = deps.shopify?.owedBeforeHandOff;
    if (owedUnitsOf) await checkStillOwed(db, { facility, shipmentId, kind, from }, owedUnitsOf);
  };
  return { pushSoon, confirmStillOwed };
}

export function registerFulfillmentRoutes(app: App, deps: AppDeps): void {
  registerSettingsAndWorkRoutes(app, deps);
  registerParcelRoutes(app, deps);
  registerHandOffRoutes(app, deps);
  registerCancelRoutes(app, deps);
}

/** The merchant's fulfilment settings, and a facility's open work. */
function registerSettingsAndWorkRoutes(app: App, deps: AppDeps): void {
  const db = deps.database.db;
  const now = () => deps.clock.now();
  app.get(
    '/api/v1/fulfillment/settings',
    {
      schema: {
        summary: 'Fulfilment settings: customer notices, where fulfilment orders live, uncollected pickups',
        tags: ['store work'],
      },
    },
    async () => fulfillmentSettings(db),
  );

  app.patch(
    '/api/v1/fulfillment/settings',
    {
      schema: {
        summary: 'Changes fulfilment settings (every problem is reported; nothing is saved if there is one)',
        tags: ['store work'],
        body: Type.Record(Type.String({ maxLength: 100 }), Type.Unknown(), { maxProperties: 20 }),
      },
    },
    async (request) => updateFulfillmentSettings(db, request.body, 'api', now()),
  );

  app.get(
    '/api/v1/facilities/:facility/work',
    {
      schema: {
        summary:
          'Open work at a facility: shipments and pickups in hand, and routed lines not started (with customer, age, promise date)',
        tags: ['store work'],
        params: FacilityParams,
      },
    },
    async (request) => facilityWork(db, request.params.facility, now()),
  );
}

/** Parcels: started, read, packed. */
function registerParcelRoutes(app: App, deps: AppDeps): void {
  const db = deps.database.db;
  const now = () => deps.clock.now();
  app.post(
    '/api/v1/facilities/:facility/shipments',
    {
      schema: {
        summary:
          'Starts picking an order: a parcel (or a pickup, for pickup orders) of some or all of its open units here',
        tags: ['store work'],
        params: FacilityParams,
        body: Type.Object(
          {
            order: OrderRef({ description: 'Switchyard id or Shopify GID' }),
            lines: Type.Optional(
              Type.Array(Type.Object({ lineId: Id(), quantity: Units(1) }, { additionalProperties: false }), {
                minItems: 1,
                maxItems: 250,
              }),
            ),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const order = await findOrder(deps, request.body.order);
      const shipment = await startShipment(
        db,
        { facility: request.params.facility, orderId: order.id, lines: request.body.lines, by: 'api' },
        now(),
      );
      return reply.code(201).send(shipment);
    },
  );

  app.get(
    '/api/v1/facilities/:facility/shipments/:id',
    {
      schema: {
        summary: 'One shipment or pickup, with what Shopify was told',
        tags: ['store work'],
        params: ShipmentParams,
      },
    },
    async (request) => {
      const shipment = await getShipment(db, request.params.id);
      if (shipment.facility !== request.params.facility)
        throw notFound(
          'fulfillment.unknown_shipment',
          `${request.params.facility} has no shipment ${request.params.id}.`,
          { shipmentId: request.params.id },
        );
      return shipment;
    },
  );

  app.post(
    '/api/v1/facilities/:facility/shipments/:id/pack',
    {
      schema: {
        summary: 'Packed: the packages and their weights',
        tags: ['store work'],
        params: ShipmentParams,
        body: Type.Object(
          {
            packages: Type.Array(
              Type.Object(
                {
                  weightGrams: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 }),
                  box: Type.Optional(Text(100)),
                },
                { additionalProperties: false },
              ),
              { minItems: 1, maxItems: 100 },
            ),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) =>
      packShipment(
        db,
        { facility: request.params.facility, shipmentId: request.params.id, packages: request.body.packages },
        now(),
      ),
  );
}

/** Units leave: a parcel shipped, a pickup made ready and handed over. */
function registerHandOffRoutes(app: App, deps: AppDeps): void {
  const db = deps.database.db;
  const now = () => deps.clock.now();
  const { pushSoon, confirmStillOwed } = stepHelpers(deps);
  app.post(
    '/api/v1/facilities/:facility/shipments/:id/ship',
    {
      schema: {
        summary: 'Shipped: carrier and tracking; the units leave stock and Shopify gets the fulfilment',
        tags: ['store work'],
        params: ShipmentParams,
        body: Type.Object(
          {
            carrier: Text(100),
            trackingNumber: Text(100),
            trackingUrl: Type.Optional(Type.String({ format: 'uri', maxLength: 2000 })),
            shippedAt: Type.Optional(DateTime()),
            notifyCustomer: Type.Optional(Type.Boolean({ description: 'Default: the notifyCustomer setting' })),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      await confirmStillOwed(request.params.facility, request.params.id, 'ship', 'packed');
      return pushSoon(
        await shipShipment(
          db,
          {
            facility: request.params.facility,
            shipmentId: request.params.id,
            carrier: request.body.carrier,
            trackingNumber: request.body.trackingNumber,
            trackingUrl: request.body.trackingUrl,
            shippedAt: request.body.shippedAt ? new Date(request.body.shippedAt) : undefined,
            notifyCustomer: request.body.notifyCustomer ?? (await fulfillmentSettings(db)).notifyCustomer,
          },
          now(),
        ),
      );
    },
  );

  app.post(
    '/api/v1/facilities/:facility/shipments/:id/ready',
    {
      schema: {
        summary: 'A pickup is ready: Shopify marks it prepared and tells the customer',
        tags: ['store work'],
        params: ShipmentParams,
      },
    },
    async (request) =>
      pushSoon(
        await markReadyForPickup(db, { facility: request.params.facility, shipmentId: request.params.id }, now()),
      ),
  );

  app.post(
    '/api/v1/facilities/:facility/shipments/:id/hand-over',
    {
      schema: {
        summary: 'The customer collected the pickup: the units leave stock and Shopify gets the fulfilment',
        tags: ['store work'],
        params: ShipmentParams,
        body: Type.Object(
          { to: Text(200, { description: 'who collected' }), at: Type.Optional(DateTime()) },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => {
      await confirmStillOwed(request.params.facility, request.params.id, 'pickup', 'ready');
      return pushSoon(
        await handOver(
          db,
          {
            facility: request.params.facility,
            shipmentId: request.params.id,
            to: request.body.to,
            at: request.body.at ? new Date(request.body.at) : undefined,
          },
          now(),
        ),
      );
    },
  );
}

/** Parcels cancelled, and their units put back on the shelf. */
function registerCancelRoutes(app: App, deps: AppDeps): void {
  const db = deps.database.db;
  const now = () => deps.clock.now();
  app.post(
    '/api/v1/facilities/:facility/shipments/:id/cancel',
    {
      schema: {
        summary:
          'Abandons a shipment still in hand: its units go back on the shelf, its lines back to open work (to reject a line, cancel its shipment first)',
        tags: ['store work'],
        params: ShipmentParams,
        body: Type.Object({ reason: Text(500) }, { additionalProperties: false }),
      },
    },
    async (request) =>
      cancelShipment(
        db,
        { facility: request.params.facility, shipmentId: request.params.id, reason: request.body.reason },
        now(),
      ),
  );

  app.post(
    '/api/v1/facilities/:facility/shipments/:id/put-back-done',
    {
      schema: {
        summary: 'The units of lines cancelled after picking are back on the shelf',
        tags: ['store work'],
        params: ShipmentParams,
      },
    },
    async (request) =>
      acknowledgePutBack(db, { facility: request.params.facility, shipmentId: request.params.id }, now()),
  );
}

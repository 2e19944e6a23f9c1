// The Admin API access scopes Switchyard needs, and what stops working without each. Shopify
// refuses (ACCESS_DENIED) any field or mutation the app lacks the scope for, so Switchyard reads its
// granted scopes when it connects and says plainly what is missing. `test/operations.test.ts` checks
// that this list covers every document Switchyard sends and every topic it subscribes to.

export interface ScopeNeed {
  scope: string;
  /**
   * Without it the initial load itself is refused (its bulk queries or webhook subscriptions need it):
   * connecting stops with an error instead of leaving a shop half loaded.
   */
  essential: boolean;
  whatStopsWorking: string;
}

export const SCOPES_NEEDED: readonly ScopeNeed[] = [
  {
    scope: 'read_locations',
    essential: true,
    whatStopsWorking:
      "Shopify's locations cannot be read: no facilities are created, and orders cannot be tied to the location Shopify assigned them to.",
  },
  {
    scope: 'read_products',
    essential: true,
    whatStopsWorking:
      'Products and variants cannot be downloaded: no catalog, so order lines match no SKU and nothing is routed or published.',
  },
  {
    scope: 'read_inventory',
    essential: true,
    whatStopsWorking:
      "Shopify's inventory levels cannot be read: no opening stock, no snapshot reconciliation, no inventory_levels/update webhooks.",
  },
  {
    scope: 'read_orders',
    essential: true,
    whatStopsWorking: 'Orders cannot be downloaded, polled or received by webhook: nothing to route or fulfil.',
  },
  {
    scope: 'read_customers',
    essential: true,
    whatStopsWorking: "Orders' customers (name, e-mail) cannot be read, so Shopify refuses every order download.",
  },
  {
    scope: 'read_merchant_managed_fulfillment_orders',
    essential: true,
    whatStopsWorking:
      "Orders' fulfilment orders cannot be read, so Shopify refuses every order download (pickup stores, assigned locations).",
  },
  {
    scope: 'write_inventory',
    essential: false,
    whatStopsWorking: 'Publishing available quantities is refused: Shopify keeps selling from its own figures.',
  },
  {
    scope: 'write_orders',
    essential: false,
    whatStopsWorking:
      'Cancelling orders and refunding lines that cannot be fulfilled (routing.auto-cancel) is refused in Shopify.',
  },
  {
    scope: 'write_merchant_managed_fulfillment_orders',
    essential: false,
    whatStopsWorking:
      'Fulfilments with tracking, pickups marked ready and fulfilment-order moves cannot be sent to Shopify: customers are not told.',
  },
];

/** Needed only when the initial load reaches back further than the 60 days Shopify shows without it. */
export const READ_ALL_ORDERS: ScopeNeed = {
  scope: 'read_all_orders',
  essential: false,
  whatStopsWorking:
    'Orders older than 60 days are invisible: an initial load of 2 or 6 months brings only the last 60 days.',
};

/** What Switchyard needs for an initial load of the open orders of the last `orderWindowMonths`. */
export function scopesNeeded(orderWindowMonths: number): readonly ScopeNeed[] {
  return orderWindowMonths > 1 ? [...SCOPES_NEEDED, READ_ALL_ORDERS] : SCOPES_NEEDED;
}

/** Whether the granted scopes include `scope`; `write_x` includes `read_x`, as in Shopify. */
export function isGranted(granted: readonly string[], scope: string): boolean {
  return (
    granted.includes(scope) || (scope.startsWith('read_') && granted.includes(`write_${scope.slice('read_'.length)}`))
  );
}

/** The needs the granted scopes leave uncovered, in the order of the list. */
export function missingScopes(granted: readonly string[], needed: readonly ScopeNeed[]): ScopeNeed[] {
  return needed.filter((need) => !isGranted(granted, need.scope));
}

/** Every scope Switchyard may need, by name (for reading back a recorded check). */
export const scopeNeedOf = (scope: string): ScopeNeed | undefined =>
  [...SCOPES_NEEDED, READ_ALL_ORDERS].find((need) => need.scope === scope);

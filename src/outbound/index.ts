// The outbound room's surface: everything Switchyard sends to Shopify, and the state it keeps to do
// so safely (see README.md).
export {
  DEFAULT_PUBLISH_SETTINGS,
  publishChangedVariants,
  publishVariants,
  PublishIncomplete,
  settleUnknownPushes,
  type PublishSettings,
  type PublishOutcome,
} from './inventory-publisher.js';
export { explainOnHandDrop, reconcileLevels, saveShopifyLevels, shadowOf, shopifyLevels } from './shadow.js';
export { pushFulfilments, syncOrder, unitsBeyondOwed } from './fulfillment-pusher.js';
export { expireUncollectedPickups } from './pickup-expiry.js';
export { autoCancelDueLines } from './auto-cancel.js';

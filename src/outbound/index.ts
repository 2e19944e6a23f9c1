// The outbound room's surface: everything Switchyard sends to Shopify, and the state it keeps to do
// so safely (see README.md).
export {
  DEFAULT_PUBLISH_SETTINGS,
  publishChangedVariants,
  publishVariants,
  type PublishSettings,
} from './inventory-publisher.js';
export { reconcileLevels, saveShopifyLevels, shadowOf, shopifyLevels } from './shadow.js';
export { pushFulfilments } from './fulfillment-pusher.js';
export { expireUncollectedPickups } from './pickup-expiry.js';
export { autoCancelDueLines } from './auto-cancel.js';

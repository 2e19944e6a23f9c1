// Shopify signs each webhook: base64 HMAC-SHA256 of the raw body with the app's client secret.
import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The signature must be exactly the base64 text of the expected digest. Decoding what was sent and
 * comparing bytes would let junk through: Node's base64 decoder skips characters it does not know
 * and stops at padding, so `<signature>!!junk` decodes to the same bytes.
 */
export function isValidWebhookSignature(
  rawBody: Buffer | string,
  signature: string | undefined,
  secret: string,
): boolean {
  if (!signature) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(rawBody).digest('base64'), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

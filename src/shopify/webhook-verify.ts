// Shopify signs each webhook: base64 HMAC-SHA256 of the raw body with the app's client secret.
import { createHmac, timingSafeEqual } from 'node:crypto';

export function isValidWebhookSignature(rawBody: Buffer | string, signature: string | undefined, secret: string): boolean {
  if (!signature) return false;
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  let given: Buffer;
  try {
    given = Buffer.from(signature, 'base64');
  } catch {
    return false;
  }
  return given.length === expected.length && timingSafeEqual(given, expected);
}

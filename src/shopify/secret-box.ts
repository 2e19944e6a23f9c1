// Tokens at rest: AES-256-GCM with a key from configuration. The shop and the field are bound into
// each ciphertext (associated data), so a value copied into another row or column does not decrypt.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface SecretBox {
  seal(plain: string, context: string): string;
  /** Undefined when the value was sealed with another key (the key changed) or was altered. */
  open(sealed: string, context: string): string | undefined;
}

const VERSION = 'v1';

/** A 32-byte key given as 64 hex digits or as base64 (44 characters). */
export function parseKey(raw: string): Buffer | undefined {
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return Buffer.from(raw, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}=?$/.test(raw)) {
    const key = Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    return key.length === 32 ? key : undefined;
  }
  return undefined;
}

/**
 * Without a configured key, tokens of the client-credentials grant are sealed with a key derived from
 * the client secret: they can always be obtained again, so a changed secret costs one renewal.
 */
export function keyFromSecret(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'switchyard', 'shopify token storage', 32));
}

export function makeSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('A token storage key has 32 bytes.');
  return {
    seal(plain, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(context));
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
    },
    open(sealed, context) {
      if (!sealed.startsWith(`${VERSION}:`)) return undefined;
      const raw = Buffer.from(sealed.slice(VERSION.length + 1), 'base64');
      if (raw.length < 28) return undefined;
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
        decipher.setAAD(Buffer.from(context));
        decipher.setAuthTag(raw.subarray(12, 28));
        return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      } catch {
        return undefined;
      }
    },
  };
}

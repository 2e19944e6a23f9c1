// Values that come from outside (a file's fields, a file name, a request) are echoed back in errors,
// reports, logs and the database. An echo is cut short, so it never grows with its input, and its
// control characters are made visible, so it never carries a byte PostgreSQL refuses (NUL in text, a
// lone surrogate in jsonb) or one that breaks a log line.

/** How many characters of an outside value an error shows. */
export const ECHO_MAX_CHARS = 80;

const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff;
const isControl = (code: number) => code <= 0x1f || (code >= 0x7f && code <= 0x9f);

/** True when the text holds a C0/C1 control character (NUL, tab, newline…) or a lone surrogate. */
export function hasUnsafeCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isControl(code)) return true;
    if (isHigh(code)) {
      if (!isLow(text.charCodeAt(i + 1))) return true;
      i++;
    } else if (isLow(code)) return true;
  }
  return false;
}

/**
 * The first `max` visible characters of `text` (control characters and lone surrogates written as
 * `\u0000`), and whether anything was left out. Reads no further than it shows.
 */
export function clip(text: string, max = ECHO_MAX_CHARS): { shown: string; cut: boolean } {
  let shown = '';
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    const pair = isHigh(code) && isLow(text.charCodeAt(i + 1));
    const piece = pair
      ? text.slice(i, i + 2)
      : isControl(code) || isHigh(code) || isLow(code)
        ? `\\u${code.toString(16).padStart(4, '0')}`
        : text[i]!;
    if (shown.length + piece.length > max) break;
    shown += piece;
    i += pair ? 2 : 1;
  }
  return { shown, cut: i < text.length };
}

const count = (n: number) => n.toLocaleString('en-US');

/** `"value"`, or `"the first 80 characters…" (70,000 characters)` for a long one. */
export function quoted(text: string, max = ECHO_MAX_CHARS): string {
  const { shown, cut } = clip(text, max);
  return cut ? `"${shown}…" (${count(text.length)} characters)` : `"${shown}"`;
}

/** Like `quoted`, without the quotes (numbers, times). */
export function echoed(text: string, max = ECHO_MAX_CHARS): string {
  const { shown, cut } = clip(text, max);
  return cut ? `${shown}… (${count(text.length)} characters)` : shown;
}

/** Safe to store and log: control characters visible, at most `max` characters (with "…" when cut). */
export function storable(text: string, max: number): string {
  const whole = clip(text, max);
  return whole.cut ? `${clip(text, max - 1).shown}…` : whole.shown;
}

/**
 * Bounded text for error messages: whatever a client sends may be quoted in
 * an error, and an error goes back to the client (a gRPC status message is
 * an HTTP/2 trailer, which a peer refuses past its header-list limit, 64 KiB
 * for Node's HTTP/2 by default; a bigger one can stall the whole HTTP/2
 * session: docs/security.md) and into logs. So
 * input is quoted through `quoteInput`, and every message a front end sends
 * passes `boundMessage`.
 */

/** Longest quoted input, in UTF-8 bytes, before it is cut with an ellipsis. */
export const MAX_QUOTED_BYTES = 256;

/** Longest status or error message a front end sends, in UTF-8 bytes (the ellipsis included). */
export const MAX_MESSAGE_BYTES = 4096;

const ELLIPSIS = '…';

/**
 * The longest prefix of `text` of at most `maxBytes` UTF-8 bytes that ends
 * on a code point boundary (a surrogate pair is never split).
 * @param text any string
 * @param maxBytes bound in UTF-8 bytes, >= 0
 */
export function utf8Prefix(text: string, maxBytes: number): string {
  // Cheap exits: a UTF-16 unit is at most 3 UTF-8 bytes.
  if (text.length * 3 <= maxBytes) return text;
  let bytes = 0;
  let i = 0;
  while (i < text.length) {
    const cp = text.codePointAt(i) as number;
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + size > maxBytes) break;
    bytes += size;
    i += cp >= 0x10000 ? 2 : 1;
  }
  return text.slice(0, i);
}

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes, ending in "…" when cut.
 * @param text any string
 * @param maxBytes bound in UTF-8 bytes including the ellipsis (3 bytes)
 * @returns `text` itself when it fits, else a valid UTF-8 prefix and "…".
 */
export function truncateUtf8(text: string, maxBytes: number): string {
  const head = utf8Prefix(text, maxBytes);
  if (head.length === text.length) return text;
  return utf8Prefix(text, Math.max(0, maxBytes - Buffer.byteLength(ELLIPSIS))) + ELLIPSIS;
}

/**
 * A client's value quoted for an error message: `"value"` when it is short,
 * else its first bytes, an ellipsis and its length in bytes, e.g.
 * `"aaaa…" (60109 bytes)`. Control characters and quotes are escaped as JSON
 * does, so a value cannot forge lines in a log or a terminal.
 * @param value the input as given (a reference, an ID, a name, a path, a command)
 * @param maxBytes how much of it to show, in UTF-8 bytes (default MAX_QUOTED_BYTES)
 */
export function quoteInput(value: string, maxBytes: number = MAX_QUOTED_BYTES): string {
  const size = Buffer.byteLength(value);
  if (size <= maxBytes) return JSON.stringify(value);
  return `${JSON.stringify(utf8Prefix(value, maxBytes) + ELLIPSIS)} (${size} bytes)`;
}

/**
 * A client's value shown bare where a message names it the way Podman does
 * (`Error: busybox: image not known`), when it is short and printable;
 * else quoted as `quoteInput` quotes it, with its length.
 * @param value the input as given
 */
export function shownInput(value: string): string {
  // eslint-disable-next-line no-control-regex
  return Buffer.byteLength(value) <= MAX_QUOTED_BYTES && !/[\u0000-\u001f\u007f"]/.test(value) ? value : quoteInput(value);
}

/**
 * A message bounded for a client: at most MAX_MESSAGE_BYTES UTF-8 bytes,
 * cut with "…" (see truncateUtf8). The one bound every gRPC status message
 * and every CLI error line passes.
 * @param message any message
 * @param maxBytes bound in UTF-8 bytes (default MAX_MESSAGE_BYTES)
 */
export function boundMessage(message: string, maxBytes: number = MAX_MESSAGE_BYTES): string {
  return truncateUtf8(message, maxBytes);
}

/** Longest error text of a tool (the OCI runtime, conmon) relayed in a message, in UTF-8 bytes. */
export const MAX_RELAYED_BYTES = 2048;

/** runc's warnings that say nothing about why a create failed (it cannot freeze a cgroup that is going away). */
const NOISE = /^.*level=warning msg="cannot toggle freezer.*$\n?/gm;

/**
 * The longest suffix of `text` of at most `maxBytes` UTF-8 bytes that starts
 * on a code point boundary.
 * @param text any string
 * @param maxBytes bound in UTF-8 bytes, >= 0
 */
export function utf8Suffix(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  let bytes = 0;
  let i = text.length;
  while (i > 0) {
    const low = text.charCodeAt(i - 1);
    const pair = low >= 0xdc00 && low <= 0xdfff && i >= 2;
    const cp = text.codePointAt(pair ? i - 2 : i - 1) as number;
    const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + size > maxBytes) break;
    bytes += size;
    i -= cp >= 0x10000 ? 2 : 1;
  }
  return text.slice(i);
}

/**
 * A tool's error text (runc's stderr, a conmon sync message) bounded for
 * relaying in a message: trimmed, runc's `cannot toggle freezer` warnings
 * dropped, and when still longer than `maxBytes`, its beginning (a quarter)
 * and its end (the rest: runc puts the reason last, after the inputs it
 * quotes) joined by ` … (<n> bytes) … `.
 * @param text the tool's text as read
 * @param maxBytes bound in UTF-8 bytes, the marker included (default MAX_RELAYED_BYTES)
 */
export function relayedText(text: string, maxBytes: number = MAX_RELAYED_BYTES): string {
  const kept = text.replace(NOISE, '').trim();
  const size = Buffer.byteLength(kept);
  if (size <= maxBytes) return kept;
  const marker = ` … (${size} bytes) … `;
  const room = Math.max(0, maxBytes - Buffer.byteLength(marker));
  const head = utf8Prefix(kept, Math.floor(room / 4));
  return head + marker + utf8Suffix(kept, room - Buffer.byteLength(head));
}

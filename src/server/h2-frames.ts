/**
 * HTTP/2 wire constants (RFC 9113 §3.4 and §6) shared by the `:authority`
 * rewriter (h2-authority.ts) and the connection hand-over (h2-handover.ts),
 * which both walk the frames a client sends before grpc-js sees them.
 */

/** The HTTP/2 client connection preface (RFC 9113 §3.4). */
export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** Length of a frame header in bytes: 24-bit length, type, flags, 31-bit stream id (RFC 9113 §4.1). */
export const FRAME_HEADER_BYTES = 9;
/** Frame types (RFC 9113 §6). */
export const TYPE_HEADERS = 0x1;
export const TYPE_SETTINGS = 0x4;
export const TYPE_PUSH_PROMISE = 0x5;
export const TYPE_CONTINUATION = 0x9;
/** Frame flags (RFC 9113 §6): ACK (SETTINGS, PING) shares bit 0 with END_STREAM (DATA, HEADERS). */
export const FLAG_ACK = 0x1;
export const FLAG_END_STREAM = 0x1;
export const FLAG_END_HEADERS = 0x4;
export const FLAG_PADDED = 0x8;
export const FLAG_PRIORITY = 0x20;

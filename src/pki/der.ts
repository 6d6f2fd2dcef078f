/**
 * The few DER pieces X.509 needs, as plain Buffers: an encoder for building a TBSCertificate and
 * a reader that slices the raw bytes of a field (the issuer name must be the CA's subject, byte
 * for byte, or Go's chain building will not find the parent by name).
 */

export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Context-specific tag: [n] EXPLICIT / constructed (0xa0 | n) or IMPLICIT primitive (0x80 | n). */
export const context = (n: number, constructed: boolean): number => (constructed ? 0xa0 : 0x80) | n;

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = content.length === 1 ? content[0]! : Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), encodeLength(body.length), body]);
}

export const seq = (...items: Buffer[]): Buffer => tlv(Tag.sequence, ...items);
export const set = (...items: Buffer[]): Buffer => tlv(Tag.set, ...items);
export const octetString = (b: Buffer): Buffer => tlv(Tag.octetString, b);
export const nullValue = (): Buffer => Buffer.from([Tag.null, 0]);
export const boolean = (v: boolean): Buffer => Buffer.from([Tag.boolean, 1, v ? 0xff : 0]);
export const utf8 = (s: string): Buffer => tlv(Tag.utf8String, Buffer.from(s, "utf8"));
export const ia5 = (s: string): Buffer => tlv(Tag.ia5String, Buffer.from(s, "ascii"));

/** A non-negative INTEGER from its big-endian magnitude (a leading 0 is added when the top bit is set). */
export function unsignedInteger(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  let m = magnitude.subarray(start);
  if ((m[0] ?? 0) & 0x80) m = Buffer.concat([Buffer.from([0]), m]);
  return tlv(Tag.integer, m);
}

export function smallInteger(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v & 0xff);
    v = Math.floor(v / 256);
  } while (v > 0);
  return unsignedInteger(Buffer.from(bytes));
}

export function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map((p) => Number(p));
  if (parts.length < 2 || parts.some((p) => !Number.isInteger(p) || p < 0)) {
    throw new Error(`invalid OID ${JSON.stringify(dotted)}`);
  }
  const out: number[] = [parts[0]! * 40 + parts[1]!];
  for (const part of parts.slice(2)) {
    const chunk: number[] = [];
    let v = part;
    do {
      chunk.unshift(v & 0x7f);
      v = Math.floor(v / 128);
    } while (v > 0);
    for (let i = 0; i < chunk.length - 1; i++) chunk[i]! |= 0x80;
    out.push(...chunk);
  }
  return tlv(Tag.oid, Buffer.from(out));
}

/** BIT STRING with 0 unused bits around the given bytes. */
export const bitString = (bytes: Buffer): Buffer => tlv(Tag.bitString, Buffer.from([0]), bytes);

/** A BIT STRING for a named-bit list (keyUsage): bit 0 is the most significant bit of the first byte. */
export function namedBits(bits: number[]): Buffer {
  if (bits.length === 0) return tlv(Tag.bitString, Buffer.from([0]));
  const max = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const b of bits) bytes[Math.floor(b / 8)]! |= 0x80 >> (b % 8);
  // DER: trailing zero bits of the last byte are counted as unused.
  const last = bytes[bytes.length - 1]!;
  let unused = 0;
  while (unused < 8 && (last & (1 << unused)) === 0) unused++;
  return tlv(Tag.bitString, Buffer.from([unused]), bytes);
}

/** UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280 4.1.2.5). Seconds precision. */
export function time(d: Date): Buffer {
  const iso = d.toISOString(); // 2025-01-02T03:04:05.678Z
  const y = d.getUTCFullYear();
  const rest = iso.slice(5, 19).replace(/[-T:]/g, ""); // MMDDhhmmss
  if (y >= 1950 && y < 2050) return tlv(Tag.utcTime, Buffer.from(`${String(y).slice(2)}${rest}Z`, "ascii"));
  return tlv(Tag.generalizedTime, Buffer.from(`${String(y).padStart(4, "0")}${rest}Z`, "ascii"));
}

// ---------------------------------------------------------------------------------------------
// Reading

/** One element: its tag, the raw bytes of the whole element, and of its content. */
export interface Node {
  tag: number;
  raw: Buffer;
  content: Buffer;
}

export function readNode(buf: Buffer, offset = 0): Node {
  const tag = buf[offset];
  const first = buf[offset + 1];
  if (tag === undefined || first === undefined) throw new Error("DER: truncated element");
  if ((tag & 0x1f) === 0x1f) throw new Error("DER: multi-byte tags are not supported");
  let length: number;
  let header = 2;
  if (first < 0x80) {
    length = first;
  } else {
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw new Error("DER: unsupported length encoding");
    length = 0;
    for (let i = 0; i < n; i++) {
      const b = buf[offset + 2 + i];
      if (b === undefined) throw new Error("DER: truncated length");
      length = length * 256 + b;
    }
    header += n;
  }
  const end = offset + header + length;
  if (end > buf.length) throw new Error("DER: element runs past the end of its container");
  return { tag, raw: buf.subarray(offset, end), content: buf.subarray(offset + header, end) };
}

/** The elements inside a constructed element (SEQUENCE, SET, [n] EXPLICIT, ...). */
export function children(node: Node): Node[] {
  const out: Node[] = [];
  let off = 0;
  while (off < node.content.length) {
    const child = readNode(node.content, off);
    out.push(child);
    off += child.raw.length;
  }
  return out;
}

export function decodeOid(content: Buffer): string {
  const first = content[0] ?? 0;
  const parts = [Math.min(2, Math.floor(first / 40)), first - Math.min(2, Math.floor(first / 40)) * 40];
  let v = 0;
  for (const b of content.subarray(1)) {
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

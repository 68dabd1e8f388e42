import { describe, expect, test } from 'vitest';
import {
  AttrWriter,
  NLA_F_NESTED,
  align4,
  attrTable,
  forEachAttr,
  getBytes,
  getStr,
  getU16,
  getU32,
  getU64,
  getU8,
  parseAttrs,
} from '../../src/netlink/attr.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('AttrWriter', () => {
  test('scalars: header (len, type), host-order payload, zero padding to 4', () => {
    const w = new AttrWriter();
    w.putU8(3, 0x18);
    w.putU16(1, 0x0a00);
    w.putU32(7, 0x1234);
    w.putU64(7, 0x0102030405060708n);
    // len 5 (4 + 1), type 3, payload 18, 3 zero pad bytes; then u16 (len 6), u32 (len 8), u64 (len 12).
    expect(hex(w.bytes())).toBe(
      '05000300' + '18000000' + '06000100' + '000a0000' + '08000700' + '34120000' + '0c000700' + '0807060504030201',
    );
  });

  test('strz: NUL-terminated, padded, length counts the NUL', () => {
    const w = new AttrWriter();
    w.putStrz(2, 'wg0');
    expect(hex(w.bytes())).toBe('08000200' + '77673000');
    const w2 = new AttrWriter();
    w2.putStrz(2, 'wgk0');
    expect(hex(w2.bytes())).toBe('09000200' + '77676b30' + '00000000');
  });

  test('nests carry NLA_F_NESTED and cover their content; cancel drops everything since the mark', () => {
    const w = new AttrWriter();
    const outer = w.nestStart(8);
    const inner = w.nestStart(0);
    w.putU16(1, 2);
    w.nestEnd(inner);
    const dropped = w.nestStart(0);
    w.putU32(4, 1);
    w.cancel(dropped);
    w.nestEnd(outer);
    expect(hex(w.bytes())).toBe('10000880' + '0c000080' + '06000100' + '02000000');
    expect(NLA_F_NESTED).toBe(0x8000);
  });

  test('a limit makes puts fail without writing (libmnl _check variants)', () => {
    const w = new AttrWriter(16);
    expect(w.putU32(1, 1)).toBe(true); // 8 bytes
    expect(w.put(2, new Uint8Array(5))).toBe(false); // 4 + 8 > 8 left
    expect(w.len).toBe(8);
    expect(w.putU32(3, 3)).toBe(true); // exactly 16
    expect(w.nestStart(4)).toBe(-1);
    expect(w.len).toBe(16);
  });

  test('reserve zero-fills an aligned header region', () => {
    const w = new AttrWriter();
    expect(w.reserve(16)).toBe(0);
    expect(w.reserve(5)).toBe(16);
    expect(w.len).toBe(24);
    w.setU16(4, 0xabcd);
    w.setU32(8, 0xffffffff);
    expect(hex(w.bytes().subarray(0, 12))).toBe('00000000cdab0000ffffffff');
  });

  test('align4', () => {
    expect([0, 1, 2, 3, 4, 5, 8].map(align4)).toEqual([0, 4, 4, 4, 4, 8, 8]);
  });
});

describe('decoding', () => {
  test('types are masked (NESTED, NET_BYTEORDER), padding skipped, truncated tail ignored', () => {
    const data = Buffer.from('0c000880' + '08000100' + '05000000' + '06000200' + 'abcd0000' + '0800', 'hex');
    const attrs = parseAttrs(new Uint8Array(data));
    expect(attrs.map((a) => a.type)).toEqual([8, 2]);
    expect(getU32(parseAttrs(attrs[0]!.payload)[0]!.payload)).toBe(5);
    expect(hex(attrs[1]!.payload)).toBe('abcd');
  });

  test('a header claiming more than is there stops the walk', () => {
    const data = new Uint8Array(Buffer.from('08000100' + '01000000' + '20000200' + '00000000', 'hex'));
    const seen: number[] = [];
    forEachAttr(data, (t) => {
      seen.push(t);
    });
    expect(seen).toEqual([1]);
  });

  test('getters take a value only at exactly its size (mnl_attr_validate)', () => {
    const b = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
    expect(getU8(b('07'))).toBe(7);
    expect(getU8(b('0700'))).toBeUndefined();
    expect(getU16(b('3412'))).toBe(0x1234);
    expect(getU16(b('341200'))).toBeUndefined();
    expect(getU32(b('78563412'))).toBe(0x12345678);
    expect(getU32(b('7856'))).toBeUndefined();
    expect(getU64(b('0100000000000080'))).toBe(0x8000000000000001n);
    expect(getU64(b('01000000'))).toBeUndefined();
    expect(getBytes(b('0102'), 2)).toEqual(new Uint8Array([1, 2]));
    expect(getBytes(b('010203'), 2)).toBeUndefined();
    expect(getStr(b('77673000'))).toBe('wg0');
    expect(getStr(b('7767'))).toBe('wg');
    expect(getStr(b(''))).toBeUndefined();
  });

  test('getBytes copies: wiping the source leaves the value', () => {
    const src = new Uint8Array([1, 2, 3, 4]);
    const got = getBytes(src, 4)!;
    src.fill(0);
    expect([...got]).toEqual([1, 2, 3, 4]);
  });

  test('attrTable keeps the last of each type', () => {
    const w = new AttrWriter();
    w.putU32(1, 1);
    w.putU32(2, 2);
    w.putU32(1, 3);
    const t = attrTable(w.bytes());
    expect(getU32(t.get(1))).toBe(3);
    expect(getU32(t.get(2))).toBe(2);
  });
});

#!/usr/bin/env node
// What the data path's ChaCha20-Poly1305 costs per packet (no root): per-call overhead against
// per-byte cost, for the koffi/libcrypto back end (src/crypto/openssl-ffi.ts) and node:crypto, plus
// the parts of one FFI seal (a bare koffi call, each EVP call). CPU time (process.cpuUsage) so
// other load on the machine inflates the numbers less than wall time would; rounds interleaved,
// median per item. The fit is least squares over sizes >= 64: time = per call + per byte x size.
//   BENCH_ROUNDS=7  BENCH_MS=60 (target CPU time per item and round)
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS || 7);
const TARGET_US = Number(process.env.BENCH_MS || 60) * 1000;
const SIZES = [0, 64, 256, 512, 1024, 1420, 2048, 4096, 8192, 16384, 65536];
// Inside node_modules, so the bundle's lazy require('koffi') resolves as it does in dist/.
mkdirSync(join(ROOT, 'node_modules/.cache'), { recursive: true });
const dir = mkdtempSync(join(ROOT, 'node_modules/.cache/wgts-bench-aead-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cpuUs = () => { const u = process.cpuUsage(); return u.user + u.system; };

try {
  const out = join(dir, 'primitives.mjs');
  await build({ entryPoints: [join(ROOT, 'src/crypto/primitives.ts')], bundle: true, format: 'esm', platform: 'node', outfile: out, logLevel: 'error', external: ['koffi'] });
  const p = await import(out);
  p.setDataCryptoBackend('openssl-ffi');
  if (p.dataCryptoBackend() !== 'openssl-ffi') throw new Error('libcrypto.so.3 through koffi did not load');

  // The same calls openssl-ffi.ts makes, bound here so each can be timed alone.
  const koffi = createRequire(join(ROOT, 'package.json'))('koffi');
  const lib = koffi.load('libcrypto.so.3');
  const versionNum = lib.func('unsigned long OpenSSL_version_num()');
  const memcmp = lib.func('int CRYPTO_memcmp(const uint8_t *a, const uint8_t *b, size_t len)');
  const ctx = lib.func('void *EVP_CIPHER_CTX_new()')();
  const cipher = lib.func('const void *EVP_chacha20_poly1305()')();
  const init = lib.func('int EVP_CipherInit_ex(void *ctx, const void *cipher, void *eng, const uint8_t *key, const uint8_t *iv, int enc)');
  const update = lib.func('int EVP_CipherUpdate(void *ctx, uint8_t *out, int *outl, const uint8_t *in, int inl)');
  const final = lib.func('int EVP_CipherFinal_ex(void *ctx, uint8_t *out, int *outl)');
  const ctrl = lib.func('int EVP_CIPHER_CTX_ctrl(void *ctx, int type, int arg, uint8_t *ptr)');
  // The lower-level EVP_Cipher (one call for the data, one with in = NULL for the tag computation):
  // timed to see how much of EVP_CipherUpdate/Final is their own bookkeeping.
  const evpCipher = lib.func('int EVP_Cipher(void *ctx, uint8_t *out, const uint8_t *in, unsigned int inl)');
  init(ctx, cipher, null, null, null, 1);

  const key = p.randomBytes(32);
  const nonce = p.randomBytes(12);
  const outl = new Int32Array(1);
  const tag = new Uint8Array(16);
  const buf = new Uint8Array(65536 + 64);
  const a16 = new Uint8Array(16);
  const b16 = new Uint8Array(16);
  const pts = new Map(SIZES.map((n) => [n, p.randomBytes(n)]));
  const sealed = new Map(SIZES.map((n) => { const o = new Uint8Array(n + 16); p.sealPadded(key, nonce, pts.get(n), 0, o, 0); return [n, o]; }));

  /** CPU ns per call of fn, calibrated to ~TARGET_US per measurement. */
  const iters = new Map();
  const measure = (name, fn) => {
    let n = iters.get(name);
    if (n === undefined) {
      n = 16;
      for (;;) { const s = cpuUs(); for (let i = 0; i < n; i++) fn(); const d = cpuUs() - s; if (d > 5000 || n > 1e7) { n = Math.max(16, Math.round((n * TARGET_US) / Math.max(d, 1))); break; } n *= 4; }
      iters.set(name, n);
    }
    const s = cpuUs();
    for (let i = 0; i < n; i++) fn();
    return ((cpuUs() - s) * 1000) / n;
  };

  const items = [
    ['koffi call, no arguments (OpenSSL_version_num)', () => versionNum()],
    ['koffi call, 2 typed arrays (CRYPTO_memcmp, 16 bytes)', () => memcmp(a16, b16, 16)],
    ['EVP_CipherInit_ex, key + nonce', () => init(ctx, null, null, key, nonce, 1)],
    ['EVP_CipherInit_ex, nonce only', () => init(ctx, null, null, null, nonce, 1)],
    ['EVP_CipherUpdate, 1420 bytes', () => update(ctx, buf, outl, buf, 1420)],
    ['EVP_CipherFinal_ex', () => final(ctx, tag, outl)],
    ['EVP_CIPHER_CTX_ctrl (get tag)', () => ctrl(ctx, 0x10, 16, tag)],
    ['EVP_Cipher, 1420 bytes', () => evpCipher(ctx, buf, buf, 1420)],
    ['a Uint8Array view (new Uint8Array(buffer, offset, length))', () => new Uint8Array(buf.buffer, 8, 1420)],
    ...SIZES.map((n) => [`seal ffi ${n}`, () => p.sealPadded(key, nonce, pts.get(n), 0, buf, 0)]),
    ...SIZES.map((n) => [`open ffi ${n}`, () => p.openData(key, nonce, sealed.get(n))]),
    ...SIZES.map((n) => [`seal node ${n}`, () => { p.setDataCryptoBackend('node:crypto'); p.sealPadded(key, nonce, pts.get(n), 0, buf, 0); p.setDataCryptoBackend('openssl-ffi'); }]),
  ];
  const results = new Map(items.map(([name]) => [name, []]));
  for (let r = 0; r < ROUNDS; r++) for (const [name, fn] of items) results.get(name).push(measure(name, fn));
  const med = (name) => median(results.get(name));
  const ns = (x) => (x >= 10000 ? `${(x / 1000).toFixed(1)} µs` : `${Math.round(x)} ns`);

  console.log(`ChaCha20-Poly1305 per call, CPU time, ${ROUNDS} interleaved rounds, median; ${cpus().length} cores (${cpus()[0].model}), load ${loadavg()[0].toFixed(1)}, node ${process.version}, ${lib.func('const char *OpenSSL_version(int)')(0)}`);
  console.log('\n| call | CPU per call |\n|---|---|');
  for (const [name] of items.slice(0, 9)) console.log(`| ${name} | ${ns(med(name))} |`);
  console.log('\n| bytes | seal, libcrypto via koffi | open, libcrypto via koffi | seal, node:crypto |\n|---|---|---|---|');
  for (const n of SIZES) console.log(`| ${n} | ${ns(med(`seal ffi ${n}`))} | ${ns(med(`open ffi ${n}`))} | ${ns(med(`seal node ${n}`))} |`);
  const fit = (prefix) => {
    const xs = SIZES.filter((n) => n >= 64);
    const ys = xs.map((n) => med(`${prefix} ${n}`));
    const mx = xs.reduce((a, b) => a + b) / xs.length;
    const my = ys.reduce((a, b) => a + b) / ys.length;
    const b = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    return { perCall: my - b * mx, perByte: b };
  };
  console.log('\n| path | per call | per byte | bytes/s at the margin | share of a 1420-byte packet that is per-call |\n|---|---|---|---|---|');
  for (const [label, prefix] of [['seal, libcrypto via koffi', 'seal ffi'], ['open, libcrypto via koffi', 'open ffi'], ['seal, node:crypto', 'seal node']]) {
    const f = fit(prefix);
    const total = f.perCall + f.perByte * 1420;
    console.log(`| ${label} | ${ns(f.perCall)} | ${f.perByte.toFixed(3)} ns | ${(1 / f.perByte).toFixed(2)} GB/s | ${Math.round((100 * f.perCall) / total)} % |`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * `wgts show --json [--show-keys] [<interface> | all]` — beyond wg: the same data as `show`/`dump`
 * in one stable, documented schema (man/wgts.8, "JSON OUTPUT"):
 *
 *   { "schema": 1,
 *     "interfaces": [
 *       { "name": "wg0",
 *         "publicKey": "<base64>" | null,
 *         "privateKey": "<base64>" | "(hidden)" | null,
 *         "listenPort": 51820,                 0 when none
 *         "fwmark": 0,                         0 = off
 *         "peers": [
 *           { "publicKey": "<base64>",
 *             "presharedKey": "<base64>" | "(hidden)" | null,
 *             "endpoint": "192.0.2.1:51820" | "[2001:db8::1]:51820" | null,
 *             "allowedIps": ["10.0.0.2/32", "fd00::2/128"],
 *             "latestHandshake": "2026-01-02T03:04:05.123456789Z" | null,
 *             "latestHandshakeUnix": 1767323045,       0 = never
 *             "latestHandshakeAgeSeconds": 42 | null,  negative if the clock went backward
 *             "rxBytes": 1234, "txBytes": 5678,
 *             "persistentKeepalive": 25 } ] },        0 = off
 *       { "name": "wg1", "error": "Permission denied" } ] }
 *
 * Private and preshared keys read "(hidden)" unless --show-keys. Counters are JSON numbers written
 * with every digit (exact up to 2^64-1; parsers that use doubles lose precision above 2^53).
 * Peers are in backend order (as `dump`). `schema` changes only if a field changes meaning.
 */
import { formatEndpoint, formatIP } from '../conf/ip.js';
import { keyIsZero, keyToBase64 } from '../conf/keys.js';
import { wipeDevice, type Key, type WgDevice, type WgPeer } from '../conf/model.js';
import { errorText } from '../system/ipc.js';
import { isHelp, listOrReport, type ShowIo } from './show-io.js';

export const JSON_SCHEMA_VERSION = 1;

/** Marker for integers that JSON.stringify would refuse (bigint) or round; replaced by raw digits. */
const BIG = '\u0000big:';

function big(n: bigint): string {
  return `${BIG}${n}`;
}

function isoTime(sec: bigint, nsec: number): string | null {
  const ms = Number(sec) * 1000;
  if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) return null;
  const base = new Date(ms).toISOString(); // ....T..:..:..(.000)Z
  return `${base.slice(0, -5)}.${String(nsec % 1_000_000_000).padStart(9, '0')}Z`;
}

function secretKey(k: Key | undefined, showKeys: boolean): string | null {
  if (!k || keyIsZero(k)) return null;
  return showKeys ? keyToBase64(k) : '(hidden)';
}

function peerJson(p: WgPeer, now: bigint, showKeys: boolean): Record<string, unknown> {
  const hs = p.lastHandshake ?? { sec: 0n, nsec: 0 };
  const never = hs.sec === 0n && hs.nsec === 0;
  return {
    publicKey: keyToBase64(p.publicKey),
    presharedKey: secretKey(p.presharedKey, showKeys),
    endpoint: p.endpoint ? formatEndpoint(p.endpoint) : null,
    allowedIps: p.allowedIps.map((ip) => `${formatIP(ip.addr)}/${ip.cidr}`),
    latestHandshake: never ? null : isoTime(hs.sec, hs.nsec),
    latestHandshakeUnix: big(hs.sec),
    latestHandshakeAgeSeconds: never ? null : big(now - hs.sec),
    rxBytes: big(p.rxBytes ?? 0n),
    txBytes: big(p.txBytes ?? 0n),
    persistentKeepalive: p.persistentKeepalive ?? 0,
  };
}

/** The JSON object of one device (schema above). */
export function deviceJson(device: WgDevice, now: bigint, showKeys: boolean): Record<string, unknown> {
  return {
    name: device.name,
    publicKey: device.publicKey ? keyToBase64(device.publicKey) : null,
    privateKey: device.privateKey ? (showKeys ? keyToBase64(device.privateKey) : '(hidden)') : null,
    listenPort: device.listenPort ?? 0,
    fwmark: (device.fwmark ?? 0) >>> 0,
    peers: device.peers.map((p) => peerJson(p, now, showKeys)),
  };
}

/** Reads one device and builds its JSON object, wiping the model's key material afterwards. */
async function readDeviceJson(io: ShowIo, name: string, now: bigint, showKeys: boolean): Promise<Record<string, unknown>> {
  const device = await io.get(name);
  try {
    return deviceJson(device, now, showKeys);
  } finally {
    wipeDevice(device);
  }
}

/** Serialises with two-space indentation, writing bigint markers as bare integers. */
export function stringifyJson(value: unknown): string {
  const text = JSON.stringify(value, null, 2);
  return text.replace(/"\\u0000big:(-?[0-9]+)"/g, '$1');
}

export function jsonUsage(io: ShowIo, argv0: string): void {
  io.err(`Usage: ${argv0} show --json [--show-keys] [<interface> | all]\n`);
}

/** `show` with --json / --show-keys among its arguments. Exit codes and stderr as plain `show`. */
export async function showJson(argv0: string, args: string[], io: ShowIo, help: (io: ShowIo, argv0: string) => void): Promise<number> {
  const json = args.includes('--json');
  const showKeys = args.includes('--show-keys');
  const rest = args.filter((a) => a !== '--json' && a !== '--show-keys');
  if (rest.length === 1 && isHelp(rest[0])) {
    help(io, argv0);
    return 0;
  }
  if (!json || rest.length > 1 || rest[0] === 'interfaces') {
    jsonUsage(io, argv0);
    return 1;
  }
  const target = rest[0];
  const now = io.now();
  const interfaces: Array<Record<string, unknown>> = [];
  let ret = 0;
  if (target === undefined || target === 'all') {
    const names = await listOrReport(io);
    if (!names) return 1;
    ret = names.length ? 1 : 0;
    for (const name of names) {
      try {
        interfaces.push(await readDeviceJson(io, name, now, showKeys));
        ret = 0;
      } catch (err) {
        io.err(`Unable to access interface ${name}: ${errorText(err)}\n`);
        interfaces.push({ name, error: errorText(err) });
      }
    }
  } else {
    try {
      interfaces.push(await readDeviceJson(io, target, now, showKeys));
    } catch (err) {
      io.err(`Unable to access interface: ${errorText(err)}\n`);
      return 1;
    }
  }
  io.out(stringifyJson({ schema: JSON_SCHEMA_VERSION, interfaces }) + '\n');
  return ret;
}

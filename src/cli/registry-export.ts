/**
 * `wgts registry export IFNAME`: publishes IFNAME's registry records into an authoritative DNS
 * server (src/registry/export.ts), once or every --interval seconds until SIGINT/SIGTERM.
 *   --zone-file PATH --ns NAME...   an RFC 1035 zone file (SOA and NS as named here), replaced
 *                                   atomically when it changed, then --reload COMMAND (sh -c)
 *   --update ADDRESS[:PORT]         RFC 2136 updates of the difference, --tsig-key FILE to sign
 * Usage errors are RangeErrors, which the registry command prints with its usage text.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isAbsolute } from 'node:path';
import type { WgPeer } from '../conf/model.js';
import { wipeDevice } from '../conf/model.js';
import { DEFAULT_ZONE, normalizeZone } from '../registry/zone.js';
import { makeExporter } from '../registry/export.js';
import { parseTsigKey } from '../registry/tsig.js';
import type { ZoneApex } from '../registry/zone-file.js';
import type { Backend } from '../conf/backend.js';
import type { ListenAddress } from '../registry/server.js';

/**
 * What export shares with the other registry verbs, passed in by registry.ts (which imports this
 * file, so this file cannot import it back).
 */
export interface ExportContext {
  backend: Backend;
  checkIfname: (name: string | undefined) => string;
  parseHostPort: (text: string, what: string) => ListenAddress;
  describeError: (err: unknown) => string;
  repeat: (interval: number, pass: () => Promise<boolean>) => Promise<number>;
}

/** SOA timers (RFC 1912 §2.2 ranges): secondaries also hear of changes by NOTIFY, if the server sends it. */
const SOA_TIMERS = { refresh: 3600, retry: 600, expire: 1_209_600 } as const;
/** TTL of the SOA and NS records, and of negative answers (SOA MINIMUM, RFC 2308 §4). */
const APEX_TTL = 3600;
const NEGATIVE_TTL = 60;

function wholeSeconds(text: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new RangeError(`--${name}: \`${text}' is not a whole number of seconds (${min} to ${max})`);
  }
  return Number(text);
}

/** A domain name given by the user, checked like a zone (LDH labels), absolute or not. */
function domainName(text: string, what: string): string {
  try {
    return normalizeZone(text);
  } catch {
    throw new RangeError(`${what}: \`${text}' is not a domain name`);
  }
}

export async function exportZone(argv0: string, args: string[], ctx: ExportContext): Promise<number> {
  const { checkIfname, parseHostPort, describeError, repeat } = ctx;
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        zone: { type: 'string' },
        ttl: { type: 'string' },
        interval: { type: 'string' },
        'zone-file': { type: 'string' },
        ns: { type: 'string', multiple: true },
        mname: { type: 'string' },
        rname: { type: 'string' },
        reload: { type: 'string' },
        update: { type: 'string' },
        'tsig-key': { type: 'string' },
        timeout: { type: 'string' },
      },
    });
  } catch (err) {
    throw new RangeError((err as Error).message.split('\n')[0]);
  }
  const { values: v, positionals } = parsed;
  if (positionals.length !== 1) throw new RangeError('export takes exactly one interface');
  const ifname = checkIfname(positionals[0]);
  const zone = normalizeZone(v.zone ?? DEFAULT_ZONE);
  const ttl = wholeSeconds(v.ttl, 'ttl', 0, 0, 2 ** 31 - 1);
  const interval = wholeSeconds(v.interval, 'interval', 0, 1, 86400);
  const timeoutMs = wholeSeconds(v.timeout, 'timeout', 10, 1, 600) * 1000;
  if (!v['zone-file'] && !v.update) throw new RangeError('export needs --zone-file <path> or --update <address>[:<port>] (or both)');
  if (!v['zone-file'] && (v.ns || v.mname || v.rname || v.reload)) throw new RangeError('--ns, --mname, --rname and --reload go with --zone-file');
  if (!v.update && v['tsig-key']) throw new RangeError('--tsig-key goes with --update');

  let zoneFile;
  if (v['zone-file']) {
    if (!v.ns?.length) throw new RangeError('--zone-file needs the zone\'s name servers: --ns <name> (repeat for each)');
    const apex: ZoneApex = {
      zone,
      ns: v.ns.map((n) => domainName(n, '--ns')),
      ...(v.mname !== undefined && { mname: domainName(v.mname, '--mname') }),
      rname: domainName((v.rname ?? `hostmaster.${zone}`).replace('@', '.'), '--rname'),
      ttl: APEX_TTL,
      ...SOA_TIMERS,
      minimum: NEGATIVE_TTL,
    };
    if (!isAbsolute(v['zone-file'])) throw new RangeError(`--zone-file: \`${v['zone-file']}' is not an absolute path`);
    zoneFile = { path: v['zone-file'], apex, ...(v.reload !== undefined && { reload: v.reload }) };
  }
  let update;
  if (v.update) {
    const server = parseHostPort(v.update, '--update');
    let key;
    if (v['tsig-key']) {
      let text: string;
      try {
        text = readFileSync(v['tsig-key'], 'utf8');
      } catch (err) {
        throw new Error(`--tsig-key: cannot read \`${v['tsig-key']}': ${(err as Error).message}`);
      }
      key = parseTsigKey(text, v['tsig-key']);
    }
    update = { server, timeoutMs, ...(key && { key }) };
  }

  const { backend } = ctx;
  // The records need public keys, endpoints and allowed IPs only: the keys read are wiped at once.
  const getPeers = async (): Promise<WgPeer[]> => {
    const device = await backend.get(ifname);
    wipeDevice(device);
    return device.peers;
  };
  const exporter = makeExporter({
    zone,
    ttl,
    source: ifname,
    getPeers,
    ...(zoneFile && { zoneFile }),
    ...(update && { update }),
    log: (m) => process.stdout.write(`${ifname}: ${m}\n`),
  });
  const pass = async (): Promise<boolean> => {
    try {
      await exporter.pass();
      return true;
    } catch (err) {
      process.stderr.write(`${argv0}: registry export ${ifname}: ${describeError(err)}\n`);
      return false;
    }
  };
  return repeat(interval, pass);
}

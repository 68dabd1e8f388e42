/**
 * The system I/O that conf/'s parsers need, backed by Node: the host resolver (getaddrinfo via
 * dns.lookup), the UDP services database (/etc/services, as getservbyname), key files, and the
 * existence checks of wg-quick's target search, the environment, stderr and timers. conf/ stays
 * pure: its parsers take each of these as a required option (`ResolveOptions.lookup` / `.services` /
 * `.env` / `.warn` / `.sleep`, `SetArgsOptions.readFile`, resolveQuickTarget's `fs`), and the
 * commands pass `SYSTEM_IO` / `systemFs` from here.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { getSystemErrorName } from 'node:util';
import { GAI_TEXT, GaiError } from '../conf/gai.js';
import { parseIPv6 } from '../conf/ip.js';
import type { HostLookup, LookupResult, ServiceLookup } from '../conf/parse.js';

/** The system resolver through Node's dns.lookup (getaddrinfo underneath), first result as wg uses it. */
export const systemLookup: HostLookup = Object.assign(async (host: string): Promise<LookupResult> => {
  // A scope must name an existing interface (getaddrinfo checks with if_nametoindex) or be numeric;
  // Node's dns.lookup short-circuits literal addresses and would not check it.
  const pct = host.indexOf('%');
  if (pct >= 0 && parseIPv6(host.slice(0, pct))) {
    const scope = host.slice(pct + 1);
    if (!/^[0-9]+$/.test(scope) && (scope === '' || scope.includes('/') || !existsSync(`/sys/class/net/${scope}`))) {
      throw new GaiError('EAI_NONAME');
    }
    return { family: 6, address: host };
  }
  if (host === '') throw new GaiError('EAI_NONAME');
  try {
    const r = await dnsLookup(host, { family: 0, all: false, verbatim: true });
    return { family: r.family === 6 ? 6 : 4, address: r.address };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    // Node reports both EAI_NONAME and EAI_NODATA as ENOTFOUND; errno keeps libuv's code.
    let code = err.code ?? 'EAI_SYSTEM';
    if (code === 'ENOTFOUND') code = typeof err.errno === 'number' ? getSystemErrorName(err.errno) : 'EAI_NONAME';
    if (!(code in GAI_TEXT)) code = 'EAI_NONAME';
    throw new GaiError(code);
  }
}, { answersLiterals: true as const });

let servicesCache: Map<string, number> | undefined;

/** UDP services of /etc/services (name and aliases -> port), first entry wins as getservbyname. */
function udpServices(): Map<string, number> {
  if (servicesCache) return servicesCache;
  const map = new Map<string, number>();
  let text = '';
  try {
    text = readFileSync('/etc/services', 'latin1');
  } catch {
    // no services database: only numeric ports resolve
  }
  for (const raw of text.split('\n')) {
    const fields = raw.replace(/#.*/, '').trim().split(/\s+/);
    const m = /^(\d+)\/udp$/.exec(fields[1] ?? '');
    if (!m || !fields[0]) continue;
    for (const name of [fields[0], ...fields.slice(2)]) if (!map.has(name)) map.set(name, Number(m[1]));
  }
  servicesCache = map;
  return map;
}

/** getservbyname(name, "udp") over /etc/services (read once); null when unknown. */
export const systemServices: ServiceLookup = (name) => udpServices().get(name) ?? null;

/** Reads a whole file (key files); throws Node's error, whose `code` readKeyFile reports. */
export const systemReadFile = (path: string): Uint8Array => readFileSync(path);

/** wg-quick's `[[ -e ]]` and `readlink -f`, for resolveQuickTarget. */
export const systemFs = { exists: (p: string) => p !== '' && existsSync(p), realpath: (p: string) => realpathSync(p) };

/** wg's warnings and retry notices: one line each on stderr. */
export const systemWarn = (line: string): void => {
  process.stderr.write(line + '\n');
};

/** The pause between endpoint resolution retries: a timer. */
export const systemSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Everything parseConfig and parseSetArgs read from or write to the system, to spread into their
 * options: the resolver, services, key files, the environment (WG_ENDPOINT_RESOLUTION_RETRIES, read
 * live), stderr for warnings, and the retry timer.
 */
export const SYSTEM_IO = {
  lookup: systemLookup,
  services: systemServices,
  readFile: systemReadFile,
  env: process.env,
  warn: systemWarn,
  sleep: systemSleep,
} as const;

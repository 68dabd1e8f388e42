/**
 * wg(8) configuration text to the device model: the grammar of wireguard-tools' config.c, which
 * `setconf`, `addconf` and `syncconf` read (wg(8), CONFIGURATION FILE FORMAT), and the field parsers that
 * `wg set` arguments share (used by args.ts).
 *
 * The grammar, line by line (each line as getline gives it, split on '\n' only):
 * - everything from the first `#` is a comment; there is no quoting, so `#` never reaches a value;
 * - every whitespace byte (space, \t, \n, \v, \f, \r) is deleted, also inside keys and values;
 *   blank lines are skipped;
 * - `[Interface]` and `[Peer]` are compared case-insensitively (ASCII only, as strcasecmp in the C
 *   locale); each `[Peer]` starts a new peer, repeated `[Interface]` sections merge;
 * - `Key=value` matches a known key case-insensitively and needs a non-empty value; anything else is
 *   `Line unrecognized: \`<line>'`;
 * - scalars: last value wins; AllowedIPs lines append; endpoints are resolved now, with retries;
 * - after the last line every peer needs a PublicKey.
 *
 * Why not the `ini` package (or any INI library): it merges repeated `[Peer]` sections into one and
 * keeps whitespace wg deletes, so it cannot express this grammar.
 *
 * Errors. wg prints the field message and then `Configuration parsing error`, without saying
 * where. We keep wg's message verbatim (so it stays greppable and matches wg's text) and prefix it
 * with the file name and line number, the choice made for wgts:
 *
 *     wg0.conf:7: Line unrecognized: `Foo=bar'
 *     Configuration parsing error
 *
 * `ConfigError.message` is wg's message alone; `formatConfigError` builds the two lines above.
 */
import { EAI_SERVICE_TEXT, GAI_TEXT, GaiError } from './gai.js';
import { keyFromBase64 } from './keys.js';
import { parseIPv4, parseIPv6 } from './ip.js';
import { emptyDevice, fillOrWipe, type Key, type WgAllowedIp, type WgDevice, type WgEndpoint, type WgPeer } from './model.js';

export { GaiError } from './gai.js';

/** A field value that wg refuses; `message` is wg's exact text (no program name, no newline). */
export class FieldError extends Error {
  /**
   * wg exits on this error without the usual trailer line (only for a bad
   * WG_ENDPOINT_RESOLUTION_RETRIES, which wg treats as fatal wherever it meets it).
   */
  readonly fatal: boolean;
  constructor(message: string, fatal = false) {
    super(message);
    this.name = 'FieldError';
    this.fatal = fatal;
  }
}

/** The line after which wg gives up: `Configuration parsing error`, `Invalid configuration`, or none. */
export type ConfigTrailer = 'Configuration parsing error' | 'Invalid configuration' | null;

/** A rejected configuration file: where, what wg says, and the offending line as written. */
export class ConfigError extends Error {
  readonly file: string;
  /** 1-based line number. */
  readonly line: number;
  /** The offending line as it appears in the file (without its newline). */
  readonly text: string;
  readonly trailer: ConfigTrailer;
  constructor(message: string, where: { file: string; line: number; text: string }, trailer: ConfigTrailer) {
    super(message);
    this.name = 'ConfigError';
    this.file = where.file;
    this.line = where.line;
    this.text = where.text;
    this.trailer = trailer;
  }
}

/** The text wgts prints for a ConfigError: `<file>:<line>: <wg message>` and wg's trailer line. */
export function formatConfigError(err: ConfigError): string {
  return `${err.file}:${err.line}: ${err.message}\n` + (err.trailer ? `${err.trailer}\n` : '');
}

/** What an address lookup returns (the first getaddrinfo result). */
export interface LookupResult {
  family: 4 | 6;
  address: string;
}

/**
 * Looks a host up as getaddrinfo(AF_UNSPEC) would. Throws an Error whose `code` is the EAI_* name
 * (`EAI_NONAME`, `EAI_AGAIN`, ...) on failure.
 */
export interface HostLookup {
  (host: string): Promise<LookupResult>;
  /**
   * True when a literal address (strict IPv4, IPv6 without a scope) resolves to itself at once, as
   * getaddrinfo does: then numeric endpoints skip the lookup and its await (see numericEndpoint).
   */
  readonly answersLiterals?: boolean;
}

/** A UDP service name to its port (getservbyname(name, "udp")), or null when unknown. */
export type ServiceLookup = (name: string) => number | null;

/** Options shared by everything that parses endpoints. */
export interface ResolveOptions {
  /** Replaces resolution entirely (after wg's syntax checks): tests, or callers with their own resolver. */
  resolveEndpoint?: (value: string) => Promise<WgEndpoint>;
  /** The host lookup, inside wg's retry loop (the commands pass the system resolver, system/conf-io.ts). */
  lookup: HostLookup;
  /** Port names, for ListenPort and endpoints (the commands pass /etc/services, system/conf-io.ts). */
  services: ServiceLookup;
  /** Where WG_ENDPOINT_RESOLUTION_RETRIES is read (the commands pass process.env, system/conf-io.ts). */
  env: Record<string, string | undefined>;
  /** Warnings and retry notices, one line without newline (the commands pass stderr). */
  warn: (line: string) => void;
  /** Sleep between retries (the commands pass a timer). */
  sleep: (ms: number) => Promise<void>;
}

export interface ParseOptions extends ResolveOptions {
  /** File name used in error messages. */
  file: string;
}

/** wg's char_is_space: space and \t \n \v \f \r. */
export function isWgSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

/** ASCII-only lower-casing: strcasecmp in the C locale folds nothing else. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/**
 * Whether `s` starts with `lower` (ASCII lower case) compared as strncasecmp in the C locale does:
 * only A-Z fold. Allocates nothing: the file loop runs it on every line of a 10,000-peer file.
 */
function startsWithCaseless(s: string, lower: string): boolean {
  if (s.length < lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Deletes every wg whitespace character (strip_spaces / config_read_line). */
export function deleteWgSpaces(s: string): string {
  for (let i = 0; i < s.length; i++) if (isWgSpace(s.charCodeAt(i))) return s.replace(/[\t-\r ]+/g, '');
  return s;
}

// ---------------------------------------------------------------------------------------------
// Field parsers (config.c's parse_*), shared with args.ts. Each throws FieldError with wg's text.

/** A base64 key (parse_key). Key material: the caller owns and wipes the result. */
export function parseKeyB64(value: string): Key {
  const key = keyFromBase64(value);
  if (!key) throw new FieldError(`Key is not the correct length or format: \`${value}'`);
  return key;
}

/** glibc strtoul(s, &end, 10) on a whole string: the value (as unsigned long) or null if `end` is not at the end. */
function strtoulWhole(s: string): bigint | null {
  if (s === '') return 0n; // no digits: strtoul returns 0 and `end` points at the terminating NUL
  const m = /^[\t\n\v\f\r ]*([+-]?)([0-9]+)$/.exec(s);
  if (!m) return null;
  const ULONG_MAX = (1n << 64n) - 1n;
  let v = BigInt(m[2]!);
  if (v > ULONG_MAX) v = ULONG_MAX; // ERANGE: strtoul returns ULONG_MAX, even for a negative overflow
  else if (m[1] === '-') v = (ULONG_MAX + 1n - v) & ULONG_MAX;
  return v;
}

/**
 * Resolves a port the way getaddrinfo(NULL, value, {SOCK_DGRAM, IPPROTO_UDP}) does in glibc: a
 * whole-string strtoul whose result, stored in an int, must not be negative (so 70000 wraps to
 * 4464 but -1 and 2147483648 are names), else a UDP service name, case-sensitive. Returns null when
 * getaddrinfo would answer EAI_SERVICE.
 */
export function resolveService(value: string, services: ServiceLookup): number | null {
  if (/^[0-9]{1,9}$/.test(value)) return Number(value) & 0xffff; // below 2^31: the common case, quickly
  const v = strtoulWhole(value);
  if (v !== null) {
    const asInt = Number(BigInt.asIntN(32, v));
    if (asInt >= 0) return asInt & 0xffff;
  }
  return services(value);
}

/** ListenPort / `listen-port` (parse_port); port names through `services`. */
export function parsePort(value: string, services: ServiceLookup): number {
  if (value.length === 0) throw new FieldError('Unable to parse empty port');
  const port = resolveService(value, services);
  if (port === null) throw new FieldError(`${EAI_SERVICE_TEXT}: \`${value}'`);
  return port;
}

/** FwMark / `fwmark` (parse_fwmark): off, decimal, or 0x-hex (lowercase x), up to 0xffffffff. */
export function parseFwmark(value: string): number {
  if (asciiLower(value) === 'off') return 0;
  const err = (): FieldError => new FieldError(`Fwmark is neither 0/off nor 0-0xffffffff: \`${value}'`);
  if (!isDigit(value.charCodeAt(0))) throw err();
  const hex = value.length > 2 && value[0] === '0' && value[1] === 'x';
  // strtoul after a leading digit: only digits of the base may follow (and 0x once, for base 16).
  const ok = hex ? /^0x[0-9a-fA-F]+$/.test(value) : /^[0-9]+$/.test(value);
  if (!ok) throw err();
  const v = BigInt(hex ? value : value.replace(/^0+(?=.)/, ''));
  if (v > 0xffffffffn) throw err();
  return Number(v);
}

/** PersistentKeepalive / `persistent-keepalive` (parse_persistent_keepalive). */
export function parseKeepalive(value: string): number {
  if (asciiLower(value) === 'off') return 0;
  if (!/^[0-9]+$/.test(value) || BigInt(value) > 65535n) {
    throw new FieldError(`Persistent keepalive interval is neither 0/off nor 1-65535: \`${value}'`);
  }
  return Number(value);
}

/** An address as parse_ip reads it: IPv6 if it contains ':', else IPv4; inet_pton strict. */
export function parseIp(value: string): { family: 4 | 6; addr: Uint8Array } {
  const v6 = value.includes(':');
  const addr = v6 ? parseIPv6(value) : parseIPv4(value);
  if (!addr) throw new FieldError(`Unable to parse IP address: \`${value}'`);
  return { family: v6 ? 6 : 4, addr };
}

/** True if bits beyond the prefix are set (validate_netmask, inverted). */
export function hasHostBits(addr: Uint8Array, cidr: number): boolean {
  const first = cidr >> 3; // the byte holding the first host bit
  if (first < addr.length && addr[first]! & (0xff >> (cidr & 7))) return true;
  for (let i = first + 1; i < addr.length; i++) if (addr[i]) return true;
  return false;
}

/** One AllowedIPs value: the prefixes, and whether this update replaces the peer's set. */
export interface ParsedAllowedIps {
  ips: WgAllowedIp[];
  /** WGPEER_REPLACE_ALLOWEDIPS as this value leaves it: false once any entry has a `+`/`-` prefix. */
  replace: boolean;
}

/**
 * AllowedIPs / `allowed-ips` (parse_allowedips, upstream 1.0.20260223): comma-separated entries,
 * each optionally prefixed `+` (add) or `-` (remove), either of which makes the update incremental;
 * `/cidr` optional. Empty value = no entries (replace with nothing). Entries with host bits set are
 * kept as written (the backend masks them) after wg's warning.
 */
export function parseAllowedIps(value: string, warn: (line: string) => void): ParsedAllowedIps {
  const result: ParsedAllowedIps = { ips: [], replace: true };
  if (value.length === 0) return result;
  for (let entry of value.split(',')) {
    let remove = false;
    if (entry[0] === '-' || entry[0] === '+') {
      remove = entry[0] === '-';
      result.replace = false;
      entry = entry.slice(1);
    }
    const slash = entry.indexOf('/');
    const ipText = slash < 0 ? entry : entry.slice(0, slash);
    const { family, addr } = parseIp(ipText);
    let cidr = family === 4 ? 32 : 128;
    if (slash >= 0) {
      const mask = entry.slice(slash + 1);
      if (!/^[0-9]+$/.test(mask) || Number(mask) > cidr) {
        throw new FieldError(`AllowedIP is not in the correct format: \`${entry}'`);
      }
      cidr = Number(mask);
      if (hasHostBits(addr, cidr)) warn(`Warning: AllowedIP has nonzero host part: ${ipText}/${mask}`);
    }
    const ip: WgAllowedIp = { family, addr, cidr };
    if (remove) ip.remove = true;
    result.ips.push(ip);
  }
  return result;
}

/** WG_ENDPOINT_RESOLUTION_RETRIES (parse_dns_retries): -1 = forever. */
export function endpointRetries(env: Record<string, string | undefined>): number {
  const raw = env['WG_ENDPOINT_RESOLUTION_RETRIES'];
  if (raw === undefined) return 15;
  if (raw === 'infinity') return -1;
  const v = strtoulWhole(raw);
  if (v === null || v > 0x7fffffffn) {
    throw new FieldError(`Unable to parse WG_ENDPOINT_RESOLUTION_RETRIES: \`${raw}'`, true);
  }
  return Number(v);
}

/** Failures wg gives up on at once; everything else is retried (config.c, after glibc's NameResolver notes). */
const PERMANENT = new Set(['EAI_NONAME', 'EAI_FAIL', 'EAI_NODATA']);

/** Splits an endpoint as parse_endpoint does: `[host]:port`, or `host:port` at the last ':'. */
export function splitEndpoint(value: string): { host: string; service: string } {
  if (value.length === 0) throw new FieldError('Unable to parse empty endpoint');
  if (value[0] === '[') {
    const close = value.indexOf(']');
    if (close < 0) throw new FieldError(`Unable to find matching brace of endpoint: \`${value}'`);
    if (value[close + 1] !== ':' || close + 2 >= value.length) {
      throw new FieldError(`Unable to find port of endpoint: \`${value}'`);
    }
    return { host: value.slice(1, close), service: value.slice(close + 2) };
  }
  const colon = value.lastIndexOf(':');
  if (colon < 0 || colon + 1 >= value.length) throw new FieldError(`Unable to find port of endpoint: \`${value}'`);
  return { host: value.slice(0, colon), service: value.slice(colon + 1) };
}

/**
 * Endpoint / `endpoint` (parse_endpoint): syntax first, then resolution now, retried as wg retries:
 * temporary failures print `<reason>: \`<value>'. Trying again in N.NN seconds...` and wait 1 s,
 * then 1.2 times longer each time, at most 20 s, WG_ENDPOINT_RESOLUTION_RETRIES times (default 15,
 * `infinity` forever); EAI_NONAME, EAI_FAIL and EAI_NODATA fail at once.
 */
export async function parseEndpoint(value: string, opts: ResolveOptions): Promise<WgEndpoint> {
  return numericEndpoint(value, opts) ?? resolveEndpoint(value, opts);
}

/**
 * parseEndpoint without the wait when nothing needs resolving: a literal address (strict IPv4, or
 * IPv6 without a scope) with a numeric port, looked up through the system resolver, which answers a
 * literal with itself (getaddrinfo parses it; Node's dns.lookup short-circuits it). Null otherwise
 * (names, scopes, service names, a caller's own lookup or resolver): then parseEndpoint's full path.
 * A 10,000-peer file has ~5,000 endpoints; each await costs a turn of the microtask queue.
 */
function numericEndpoint(value: string, opts: ResolveOptions): WgEndpoint | null {
  // wg reads the retry count before it looks at the value, so a bad variable is fatal even here.
  endpointRetries(opts.env);
  const { host, service } = splitEndpoint(value);
  if (opts.resolveEndpoint || !opts.lookup.answersLiterals) return null;
  const c = service.charCodeAt(0);
  if (!(c >= 0x30 && c <= 0x39)) return null; // names and odd strtoul spellings take the full path
  const port = resolveService(service, opts.services);
  if (port === null) return null;
  if (parseIPv4(host)) return { family: 4, host, port };
  if (!host.includes('%') && parseIPv6(host)) return { family: 6, host, port };
  return null;
}

async function resolveEndpoint(value: string, opts: ResolveOptions): Promise<WgEndpoint> {
  let retries = endpointRetries(opts.env);
  const { host, service } = splitEndpoint(value);
  if (opts.resolveEndpoint) return opts.resolveEndpoint(value);
  const lookup = opts.lookup;
  const { warn, sleep } = opts;
  for (let timeoutUs = 1_000_000; ; timeoutUs = Math.min(20_000_000, Math.floor((timeoutUs * 6) / 5))) {
    let code: string;
    try {
      // glibc resolves the service before the host, so a bad port wins over a bad name.
      const port = resolveService(service, opts.services);
      if (port === null) throw new GaiError('EAI_SERVICE');
      const r = await lookup(host);
      return { family: r.family, host: r.address, port };
    } catch (e) {
      if (!(e instanceof GaiError)) throw e;
      code = e.code;
    }
    const reason = GAI_TEXT[code] ?? code;
    if (PERMANENT.has(code) || (retries >= 0 && retries-- === 0)) throw new FieldError(`${reason}: \`${value}'`);
    warn(`${reason}: \`${value}'. Trying again in ${(timeoutUs / 1e6).toFixed(2)} seconds...`);
    await sleep(timeoutUs / 1000);
  }
}

// ---------------------------------------------------------------------------------------------
// The file grammar (config_read_line / process_line / config_read_finish).

/**
 * The value of `Key=value` when the line starts with `key=` (any case) and has a value (get_value).
 * `lower` is the key in lower case; the key contains no `=`, so `eq`, the line's first `=`, must
 * sit right after it.
 */
function valueOf(line: string, eq: number, lower: string): string | null {
  return eq === lower.length && eq + 1 < line.length && startsWithCaseless(line, lower) ? line.slice(eq + 1) : null;
}

/**
 * Parses a wg(8) configuration. The result holds only what the file gives (no setconf defaults:
 * setconf itself forces private key, port and fwmark and sets replacePeers). Every peer has
 * `replaceAllowedIps` as wg sets it. Throws ConfigError at the first rejected line.
 *
 * `text` should be the file's bytes decoded as latin1 (or UTF-8 for UTF-8 files): wg works on bytes.
 * On failure the keys read so far are wiped.
 */
export function parseConfig(text: string, opts: ParseOptions): Promise<WgDevice> {
  return fillOrWipe(emptyDevice(''), (device) => readConfig(text, opts, device));
}

/** A peer and its `[Peer]` line (0-based), for `A peer is missing a public key`. */
interface PeerStart {
  peer: WgPeer;
  index: number;
  hasPublicKey: boolean;
}

/**
 * parseConfig's line loop and final check, filling `device`. Only endpoints that need a resolver
 * wait (see numericEndpoint); every other line is handled synchronously and allocates only what
 * the model keeps. Whitespace is deleted from the whole text in one pass (it never includes the
 * '\n' that separates lines, and deleting it before cutting at '#' or NUL gives the same line);
 * the lines as written are split out again only for an error message.
 */
async function readConfig(text: string, opts: ParseOptions, device: WgDevice): Promise<void> {
  const o = opts;
  const where = (index: number) => ({ file: opts.file, line: index + 1, text: text.split('\n')[index]! });
  let section: Section = 'none';
  let peer: PeerStart | undefined;
  const peers: PeerStart[] = [];
  const lines = text.replace(/[\t\v\f\r ]+/g, '').split('\n');
  for (let index = 0; index < lines.length; index++) {
    let line = lines[index]!;
    // C strings: a NUL byte ends the line for wg.
    const nul = line.indexOf('\0');
    if (nul >= 0) line = line.slice(0, nul);
    const hash = line.indexOf('#');
    if (hash >= 0) line = line.slice(0, hash);
    if (line.length === 0) continue;
    try {
      if (line.charCodeAt(0) === 0x5b /* [ */) {
        if (line.length === 11 && startsWithCaseless(line, '[interface]')) {
          section = 'interface';
          continue;
        }
        if (line.length === 6 && startsWithCaseless(line, '[peer]')) {
          peer = { peer: { publicKey: new Uint8Array(32), allowedIps: [], replaceAllowedIps: true }, index, hasPublicKey: false };
          device.peers.push(peer.peer);
          peers.push(peer);
          section = 'peer';
          continue;
        }
      }
      const done = processKeyLine(line, section, device, peer, o);
      if (done === false) throw new FieldError(`Line unrecognized: \`${line}'`);
      if (done !== true) await done;
    } catch (e) {
      if (e instanceof FieldError) throw new ConfigError(e.message, where(index), e.fatal ? null : 'Configuration parsing error');
      throw e;
    }
  }
  for (const p of peers) {
    if (!p.hasPublicKey) throw new ConfigError('A peer is missing a public key', where(p.index), 'Invalid configuration');
  }
}

type Section = 'none' | 'interface' | 'peer';

/**
 * One `Key=value` line in its section: true when applied, false if the key is not one wg knows
 * there, or a promise for an endpoint that has to be resolved first.
 */
function processKeyLine(
  line: string,
  section: Section,
  device: WgDevice,
  start: PeerStart | undefined,
  opts: ParseOptions & { warn: (line: string) => void },
): boolean | Promise<void> {
  const eq = line.indexOf('=');
  if (eq <= 0) return false;
  let v: string | null;
  if (section === 'interface') {
    if ((v = valueOf(line, eq, 'listenport')) !== null) device.listenPort = parsePort(v, opts.services);
    else if ((v = valueOf(line, eq, 'fwmark')) !== null) device.fwmark = parseFwmark(v);
    else if ((v = valueOf(line, eq, 'privatekey')) !== null) replaceKey(device, 'privateKey', parseKeyB64(v));
    else return false;
    return true;
  }
  if (section === 'peer' && start) {
    const peer = start.peer;
    if ((v = valueOf(line, eq, 'endpoint')) !== null) {
      const ep = numericEndpoint(v, opts);
      if (ep) peer.endpoint = ep;
      else return resolveEndpoint(v, opts).then((r) => void (peer.endpoint = r));
    } else if ((v = valueOf(line, eq, 'publickey')) !== null) {
      peer.publicKey = parseKeyB64(v);
      start.hasPublicKey = true;
    } else if ((v = valueOf(line, eq, 'allowedips')) !== null) {
      const parsed = parseAllowedIps(v, opts.warn);
      for (const ip of parsed.ips) peer.allowedIps.push(ip);
      peer.replaceAllowedIps = parsed.replace;
    } else if ((v = valueOf(line, eq, 'persistentkeepalive')) !== null) peer.persistentKeepalive = parseKeepalive(v);
    else if ((v = valueOf(line, eq, 'presharedkey')) !== null) replaceKey(peer, 'presharedKey', parseKeyB64(v));
    else return false;
    return true;
  }
  return false;
}

/** Sets a key field, wiping the key it replaces (key material). */
function replaceKey<T extends { privateKey?: Key; presharedKey?: Key }>(
  target: T,
  field: 'privateKey' | 'presharedKey',
  key: Key,
): void {
  target[field]?.fill(0);
  target[field] = key;
}

/**
 * `wgts lint`: every problem of a wg / wg-quick configuration, each with its line and a fix, found
 * without touching the system — what the host has (port names, a DNS tool, the file's mode) is
 * passed in as facts. Rules follow wg(8) (CONFIGURATION FILE FORMAT) and wg-quick(8), and the
 * field parsers of parse.ts, so a value lint accepts is one wg accepts.
 *
 * Findings never quote a private or preshared key.
 */
import { readSections, type KeyLine, type Section } from './config-lines.js';
import { didYouMean } from './did-you-mean.js';
import { byteOrderMark, type ConfigEncoding } from './encoding.js';
import { keyToBase64 } from './keys.js';
import type { Key } from './model.js';
import { deleteWgSpaces, FieldError, parseFwmark, parseKeepalive, parseKeyB64, parsePort, resolveService, splitEndpoint, type ServiceLookup } from './parse.js';
import { formatPrefix, parsePrefix, PrefixError } from './prefix-set.js';
import { parseIPv4, parseIPv6 } from './ip.js';

export interface Finding {
  line: number;
  /** A short stable name for the rule (for --json consumers and tests). */
  rule: string;
  problem: string;
  fix: string;
}

/** What lint knows about the host; gathered by the command, so this module stays pure. */
export interface LintFacts {
  /** The file's permission bits, when it is a file. */
  mode?: number;
  /** Whether `resolvconf` or `resolvectl` exists here (wg-quick needs one for DNS =). */
  hasDnsTool: boolean;
  /** UDP service names (getservbyname), for ListenPort and Endpoint ports given by name. */
  services: ServiceLookup;
  /** X25519 public key of a private key (null if not a valid key). */
  publicKeyOf: (privateKey: Key) => Key | null;
  /** How the text was decoded (encoding.ts decodeConfig); utf8 when not given. */
  encoding?: ConfigEncoding;
}

/** Keys per section, as wg(8) and wg-quick(8) spell them. */
const INTERFACE_KEYS = ['PrivateKey', 'ListenPort', 'FwMark', 'Address', 'DNS', 'MTU', 'Table', 'PreUp', 'PostUp', 'PreDown', 'PostDown', 'SaveConfig'];
const PEER_KEYS = ['PublicKey', 'PresharedKey', 'AllowedIPs', 'Endpoint', 'PersistentKeepalive'];
/** Keys that may repeat (their values add up); every other repeated key silently loses to the last. */
const LIST_KEYS = new Set(['address', 'dns', 'allowedips', 'preup', 'postup', 'predown', 'postdown']);

/** wg-quick (wg-quick(8), MTU) takes any number; below 1280 IPv6 cannot run (RFC 8200 §5). */
const MTU_MIN = 1280;
const MTU_MAX = 65535;

/** Lints one configuration text; findings sorted by line. */
export function lintConfig(text: string, facts: LintFacts): Finding[] {
  const out: Finding[] = [];
  const add = (line: number, rule: string, problem: string, fix: string): void => void out.push({ line, rule, problem, fix });

  const bom = byteOrderMark(facts.encoding ?? 'utf8');
  if (text.startsWith(bom)) {
    add(1, 'bom', 'the file starts with a byte-order mark, which wg reads as part of the first line', 'save the file as UTF-8 without BOM');
    text = text.slice(bom.length);
  }
  if (facts.mode !== undefined && (facts.mode & 0o007) !== 0) {
    const mode = (facts.mode & 0o777).toString(8).padStart(4, '0');
    add(1, 'world-readable', `the file is accessible to every user (mode ${mode}) and holds keys`, 'chmod 600 it (wg-quick warns about this too)');
  }

  const sections = readSections(text);
  let ownPublic: Key | null = null;
  let firstInterface: Section | undefined;
  const peersByKey = new Map<string, number>();
  const prefixOwner = new Map<string, number>();

  for (const s of sections) {
    for (const st of s.stray) {
      add(st.line, 'syntax', `\`${st.text}' is neither a [Section] header nor Key = value`, 'write Key = value, or start the line with # to make it a comment');
    }
    if (s.kind === 'none') {
      for (const k of s.keys) add(k.line, 'before-section', `${k.key} comes before any section`, 'put it under [Interface] or [Peer]');
      continue;
    }
    if (s.kind === 'unknown') {
      const guess = didYouMean(s.header.replace(/^\[|\]$/g, ''), ['Interface', 'Peer']);
      add(s.line, 'section', `unknown section ${s.header}`, guess ? `did you mean [${guess}]?` : 'use [Interface] or [Peer]');
      continue;
    }
    if (/\s/.test(s.header)) {
      add(s.line, 'section', `${s.header} has blanks inside the brackets, which wg-quick does not accept`, `write [${s.kind === 'interface' ? 'Interface' : 'Peer'}]`);
    }
    checkKeys(s, add);
    if (s.kind === 'interface') {
      if (firstInterface) add(s.line, 'duplicate-interface', `a second [Interface] section (the first is at line ${firstInterface.line}); wg merges them`, 'merge both into one [Interface]');
      else firstInterface = s;
      const priv = lastKey(s, 'privatekey');
      if (priv) {
        const key = safeKey(priv.value);
        if (key) {
          ownPublic = facts.publicKeyOf(key) ?? ownPublic;
          key.fill(0);
        }
      }
      checkInterface(s, facts, add);
    } else {
      checkPeer(s, facts, add, ownPublic, peersByKey, prefixOwner);
    }
  }
  ownPublic?.fill(0);
  return out.sort((a, b) => a.line - b.line);
}

type Add = (line: number, rule: string, problem: string, fix: string) => void;

/** Unknown, misplaced and repeated keys. */
function checkKeys(s: Section, add: Add): void {
  const own = s.kind === 'interface' ? INTERFACE_KEYS : PEER_KEYS;
  const other = s.kind === 'interface' ? PEER_KEYS : INTERFACE_KEYS;
  const here = `[${s.kind === 'interface' ? 'Interface' : 'Peer'}]`;
  const seen = new Map<string, number>();
  for (const k of s.keys) {
    const lower = k.key.toLowerCase();
    const known = own.find((c) => c.toLowerCase() === lower);
    if (!known) {
      const elsewhere = other.find((c) => c.toLowerCase() === lower);
      if (elsewhere) add(k.line, 'misplaced-key', `${k.key} does not belong in ${here}`, `move it to [${s.kind === 'interface' ? 'Peer' : 'Interface'}]`);
      else {
        const guess = didYouMean(k.key, own);
        add(k.line, 'unknown-key', `unknown key ${k.key} in ${here}`, guess ? `did you mean ${guess}?` : `${here} takes ${own.join(', ')}`);
      }
      continue;
    }
    if (k.value === '' && !LIST_KEYS.has(lower) && lower !== 'mtu' && lower !== 'table') {
      add(k.line, 'empty-value', `${known} has no value`, `give it a value or remove the line`);
    }
    const first = seen.get(lower);
    if (first !== undefined && !LIST_KEYS.has(lower)) {
      add(k.line, 'duplicate-key', `${known} is given again (first at line ${first}); only this last one counts`, 'remove one of them');
    } else if (first === undefined) seen.set(lower, k.line);
  }
}

function lastKey(s: Section, lower: string): KeyLine | undefined {
  return s.keys.filter((k) => k.key.toLowerCase() === lower).at(-1);
}

function each(s: Section, lower: string): KeyLine[] {
  return s.keys.filter((k) => k.key.toLowerCase() === lower && k.value !== '');
}

/** The key, or null; the value is never echoed (it may be a private key). */
function safeKey(value: string): Key | null {
  try {
    return parseKeyB64(deleteWgSpaces(value));
  } catch {
    return null;
  }
}

function checkInterface(s: Section, facts: LintFacts, add: Add): void {
  for (const k of each(s, 'privatekey')) {
    const key = safeKey(k.value);
    if (!key) add(k.line, 'bad-key', 'PrivateKey is not a base64 key of 32 bytes', 'generate one with `wgts genkey`');
    key?.fill(0);
  }
  for (const k of each(s, 'listenport')) {
    try {
      parsePort(deleteWgSpaces(k.value), facts.services);
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      add(k.line, 'bad-value', `ListenPort \`${k.value}' is not a port`, 'use a number from 1 to 65535, or remove it for a random port');
    }
  }
  for (const k of each(s, 'fwmark')) {
    try {
      parseFwmark(deleteWgSpaces(k.value));
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      add(k.line, 'bad-value', `FwMark \`${k.value}' is not a mark`, 'use off, a decimal number or 0x-hex up to 0xffffffff');
    }
  }
  for (const k of each(s, 'address')) {
    for (const a of k.value.split(/[,\s]+/).filter((w) => w !== '')) {
      if (!isAddressWithLength(a)) add(k.line, 'bad-value', `Address \`${a}' is not an IP address with an optional /prefix length`, 'write e.g. 10.0.0.1/24 or fd00::1/64');
    }
  }
  const dns = each(s, 'dns');
  if (dns.length > 0 && !facts.hasDnsTool) {
    add(dns[0]!.line, 'dns-tool', 'DNS is set, but neither resolvconf nor resolvectl is installed here, so wg-quick up fails', 'install resolvconf (or systemd-resolved), or remove DNS');
  }
  for (const k of each(s, 'mtu')) {
    if (!/^[0-9]+$/.test(k.value)) add(k.line, 'mtu', `MTU \`${k.value}' is not a number`, `use ${MTU_MIN} to ${MTU_MAX}, or remove it to let wg-quick choose`);
    else if (Number(k.value) < MTU_MIN || Number(k.value) > MTU_MAX) {
      add(k.line, 'mtu', `MTU ${k.value} is outside ${MTU_MIN}-${MTU_MAX} (${MTU_MIN} is the IPv6 minimum)`, `use ${MTU_MIN} to ${MTU_MAX}, or remove it to let wg-quick choose`);
    }
  }
  for (const k of each(s, 'table')) {
    if (!/^(auto|off|[0-9]+|[A-Za-z_][A-Za-z0-9_.-]*)$/.test(k.value) || (/^[0-9]+$/.test(k.value) && Number(k.value) > 0xffffffff)) {
      add(k.line, 'bad-value', `Table \`${k.value}' is not auto, off, a table number or a name`, 'use auto, off, a number or a name from /etc/iproute2/rt_tables');
    }
  }
  for (const k of each(s, 'saveconfig')) {
    if (!/^(true|false)$/i.test(k.value)) add(k.line, 'bad-value', `SaveConfig \`${k.value}' is neither true nor false`, 'write true or false');
  }
}

function isAddressWithLength(text: string): boolean {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const v6 = addr.includes(':');
  if (!(v6 ? parseIPv6(addr) : parseIPv4(addr))) return false;
  if (slash < 0) return true;
  const len = text.slice(slash + 1);
  return /^[0-9]{1,3}$/.test(len) && Number(len) <= (v6 ? 128 : 32);
}

function checkPeer(s: Section, facts: LintFacts, add: Add, ownPublic: Key | null, peersByKey: Map<string, number>, prefixOwner: Map<string, number>): void {
  const pub = lastKey(s, 'publickey');
  if (!pub) add(s.line, 'peer-key', 'this [Peer] has no PublicKey', 'add PublicKey = <the peer\'s public key>');
  else if (pub.value !== '') {
    const key = safeKey(pub.value);
    if (!key) add(pub.line, 'bad-key', `PublicKey \`${pub.value}' is not a base64 key of 32 bytes`, "paste the peer's key as `wgts pubkey` prints it");
    else {
      const b64 = keyToBase64(key);
      const first = peersByKey.get(b64);
      if (first !== undefined) add(pub.line, 'duplicate-peer', `this peer is already defined at line ${first}; wg merges the two`, 'merge the two [Peer] sections');
      else peersByKey.set(b64, s.line);
      if (ownPublic && keyToBase64(ownPublic) === b64) {
        add(pub.line, 'own-key', "this peer's PublicKey is the interface's own public key", "use the other side's public key (the interface cannot be its own peer)");
      }
    }
  }
  for (const k of each(s, 'presharedkey')) {
    const key = safeKey(k.value);
    if (!key) add(k.line, 'bad-key', 'PresharedKey is not a base64 key of 32 bytes', 'generate one with `wgts genpsk` and use it on both sides');
    key?.fill(0);
  }
  const mine = new Set<string>();
  for (const k of each(s, 'allowedips')) {
    for (const raw of deleteWgSpaces(k.value).split(',')) {
      if (raw === '') {
        add(k.line, 'bad-value', 'AllowedIPs has an empty entry (a stray comma)', 'remove the extra comma');
        continue;
      }
      const entry = raw[0] === '+' || raw[0] === '-' ? raw.slice(1) : raw;
      let text: string;
      try {
        text = formatPrefix(parsePrefix(entry));
      } catch (e) {
        if (!(e instanceof PrefixError)) throw e;
        if (!e.suggestion) {
          add(k.line, 'bad-value', `AllowedIPs entry \`${entry}' is not an address with an optional /prefix length`, 'write e.g. 10.0.0.2/32 or fd00::/64');
          continue;
        }
        add(k.line, 'host-bits', `AllowedIPs entry ${entry} has host bits set; wg uses ${e.suggestion}`, `write ${e.suggestion}, or ${entry.split('/')[0]}/${entry.includes(':') ? 128 : 32} for the one host`);
        text = e.suggestion;
      }
      if (mine.has(text)) {
        add(k.line, 'duplicate-prefix', `${text} is listed twice for this peer`, 'remove one');
        continue;
      }
      mine.add(text);
      const owner = prefixOwner.get(text);
      if (owner !== undefined) {
        add(k.line, 'prefix-conflict', `${text} is also claimed by the peer at line ${owner}; the later peer silently takes it`, 'give each prefix to one peer only');
      } else prefixOwner.set(text, s.line);
    }
  }
  for (const k of each(s, 'endpoint')) {
    const value = deleteWgSpaces(k.value);
    if (!value.startsWith('[') && value.indexOf(':') !== value.lastIndexOf(':')) {
      add(k.line, 'endpoint-port', `Endpoint \`${value}' is an IPv6 address without brackets`, 'write [address]:port, e.g. [fd00::1]:51820');
      continue;
    }
    let service: string;
    try {
      service = splitEndpoint(value).service;
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      const hint = `${value}:51820`;
      add(k.line, 'endpoint-port', `Endpoint \`${value}' has no port`, `add the peer's port, e.g. ${hint}`);
      continue;
    }
    if (value.startsWith(':') || value.startsWith('[]')) {
      add(k.line, 'bad-value', `Endpoint \`${value}' has no host`, "write the peer's address or host name before the port");
      continue;
    }
    if (resolveService(service, facts.services) === null) {
      add(k.line, 'bad-value', `Endpoint port \`${service}' is neither a number nor a known UDP service`, 'use the port number, e.g. :51820');
    }
  }
  for (const k of each(s, 'persistentkeepalive')) {
    try {
      parseKeepalive(deleteWgSpaces(k.value));
    } catch (e) {
      if (!(e instanceof FieldError)) throw e;
      add(k.line, 'keepalive', `PersistentKeepalive \`${k.value}' is out of range`, 'use off/0, or 1-65535 seconds (25 is usual behind NAT)');
    }
  }
}

/** `FILE:LINE: problem; fix` — one line per finding. */
export function formatFinding(file: string, f: Finding): string {
  return `${file}:${f.line}: ${f.problem}; ${f.fix}`;
}

/**
 * Checks of what `peer add` writes into two configuration files: each value is refused precisely,
 * before anything is touched, so that no line wg or wg-quick would choke on (or a newline that
 * would smuggle in a key) can reach a file.
 */
import { parseIPv4, parseIPv6 } from '../conf/ip.js';
import { formatPrefix, parsePrefixText, subnetOf } from './addresses.js';

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/**
 * A peer name: 1-64 letters (any script), digits, spaces and `_ . - @ + '`, starting with a letter
 * or digit, not ending in a space. No `=` or `#`, so a name never reads as a key or a comment, and
 * never as a base64 public key (`peer remove` takes either).
 */
export function checkName(name: string): string {
  if (!/^[\p{L}\p{N}](?:[\p{L}\p{N} _.@+'-]{0,62}[\p{L}\p{N}_.@+'-])?$/u.test(name)) {
    throw new InputError(`invalid name \`${name}': use 1-64 letters, digits, spaces and _ . - @ + ', starting with a letter or digit`);
  }
  return name;
}

/** A DNS name as RFC 1123 allows it: labels of letters, digits and inner hyphens, 253 characters at most. */
function isHostname(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  return host
    .replace(/\.$/, '')
    .split('.')
    .every((label) => /^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$/.test(label));
}

/** `HOST:PORT` with HOST a DNS name, an IPv4 address or `[IPv6]`, PORT 1-65535. Returned as given. */
export function checkEndpoint(endpoint: string): string {
  const bad = (why: string): never => {
    throw new InputError(`invalid endpoint \`${endpoint}': ${why}`);
  };
  const m = /^(\[[^\]]*\]|[^:[\]]*):([0-9]{1,5})$/.exec(endpoint);
  if (!m) return bad('expected HOST:PORT (an IPv6 address in brackets: [2001:db8::1]:51820)');
  const host = m[1]!;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) bad('the port must be 1-65535');
  if (host.startsWith('[')) {
    if (!parseIPv6(host.slice(1, -1))) bad(`${host} is not an IPv6 address`);
  } else if (/^[0-9.]+$/.test(host)) {
    if (!parseIPv4(host)) bad(`${host} is not an IPv4 address`);
  } else if (!isHostname(host)) bad(`${host} is not a host name`);
  return endpoint;
}

/** `--dns`: addresses (name servers) and search domains, as wg-quick's DNS accepts them. */
export function checkDns(list: string): string[] {
  const items = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const item of items) {
    if (item.includes(':') ? !parseIPv6(item) : /^[0-9.]+$/.test(item) ? !parseIPv4(item) : !isHostname(item)) {
      throw new InputError(`--dns: \`${item}' is neither an IP address nor a search domain`);
    }
  }
  if (items.length === 0) throw new InputError('--dns: no address given');
  return items;
}

/** `--allowed-ips`: prefixes, written in their network form (10.0.0.7/24 -> 10.0.0.0/24). */
export function checkAllowedIps(list: string): string[] {
  const items = list.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new InputError('--allowed-ips: no prefix given');
  return items.map((item) => {
    const p = parsePrefixText(item);
    if (!p) throw new InputError(`--allowed-ips: \`${item}' is not a prefix such as 10.0.0.0/24 or ::/0`);
    return formatPrefix(subnetOf(p));
  });
}

/** `--keepalive`: seconds, 1-65535 (wg's range); 0 means none. */
export function checkKeepalive(text: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535) throw new InputError(`--keepalive: \`${text}' is not a number of seconds 0-65535`);
  return Number(text);
}

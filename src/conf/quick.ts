/**
 * wg-quick's own pass over a configuration (linux.bash `parse_options`, wg-quick(8)): the
 * [Interface] additions wg-quick handles itself (Address, DNS, MTU, Table, PreUp, PostUp, PreDown,
 * PostDown, SaveConfig) are taken out; every other line is kept verbatim (trimmed as `read -r`
 * trims) and forms the text fed to `wg` and printed by `wg-quick strip`. The wg keys themselves are
 * not looked at here: parse.ts reads `wgText` with wg's grammar.
 *
 * Rules, as bash applies them (LC_ALL=C, nocasematch):
 * - a line is what `read -r` gives: split on '\n', NUL bytes dropped, leading and trailing spaces,
 *   tabs removed (not \r: a CRLF line keeps its \r, which the key/value trimming then removes); a
 *   last line without newline counts only if something is left of it;
 * - key = text before the first `=` of the line cut at its first `#`, trimmed of [[:space:]];
 *   value = text after that `=` (the whole cut line if there is none), trimmed the same way;
 * - a key starting with `[` leaves the interface section, a key equal to `[Interface]` (any case,
 *   no inner spaces, unlike wg) enters it;
 * - Address and DNS values are split on commas and blanks and accumulate; DNS items that are all
 *   digits and dots, or contain `:`, are name servers, the rest search domains; MTU and Table: last
 *   wins, empty = unset; hooks accumulate in order; SaveConfig is `true` or `false` in any case.
 * - Hooks (upstream 1.0.20260223, docs/compatibility.md): the value is taken from the line before the `#`
 *   cut, so `#` and what follows reach bash unchanged (Debian's 2021 script cut it off).
 * Not imitated: bash would glob-expand Address/DNS words that contain `*`, `?` or `[` (an accident
 * of an unquoted expansion); wgts takes them literally.
 */

import type { ConfigEncoding } from './encoding.js';

export interface QuickInterface {
  addresses: string[];
  dns: string[];
  dnsSearch: string[];
  /** The MTU when the last MTU value is a decimal number. */
  mtu?: number;
  /** The last MTU value as written (wg-quick passes it to `ip link set mtu` unchecked). */
  mtuText?: string;
  /** Table value as written (`auto`, `off`, a number or a name); unset when absent or empty. */
  table?: string;
  preUp: string[];
  postUp: string[];
  preDown: string[];
  postDown: string[];
  saveConfig: boolean;
}

export interface QuickConfig {
  interface: QuickInterface;
  /** The configuration without wg-quick's keys, exactly as `wg-quick strip` prints it minus echo's final newline. */
  wgText: string;
  /**
   * For each line of wgText, its 1-based line number in the file: wg's errors count lines of
   * wgText, which lacks the Address, DNS, MTU, hook... lines; a message must name the file's line.
   */
  wgLines: number[];
  /** How the file's bytes were decoded into this text (set by the reader, see encoding.ts). */
  encoding?: ConfigEncoding;
}

/** A wg-quick refusal; `message` is wg-quick's text without the program-name prefix. */
export class QuickConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuickConfigError';
  }
}

/** The interface-name pattern wg-quick uses for arguments and file names (at most 15 characters). */
export const QUICK_NAME_RE = /^[a-zA-Z0-9_=+.-]{1,15}$/;
const QUICK_FILE_RE = /(^|\/)([a-zA-Z0-9_=+.-]{1,15})\.conf$/;

/** Where wg-quick looks for a configuration given by interface name. */
export const QUICK_CONFIG_DIR = '/etc/wireguard';

/** Trims POSIX [[:space:]] (space \t \n \v \f \r) from both ends. */
function trimSpace(s: string): string {
  return s.replace(/^[ \t\n\v\f\r]+/, '').replace(/[ \t\n\v\f\r]+$/, '');
}

/** ASCII case-insensitive equality (nocasematch in the C locale). */
function sameWord(a: string, b: string): boolean {
  return a.length === b.length && a.replace(/[A-Z]/g, (c) => c.toLowerCase()) === b.toLowerCase();
}

/** One line as `read -r` stores it: NULs dropped, IFS blanks (space, tab) trimmed at both ends. */
function readTrim(raw: string): string {
  return raw.replaceAll('\0', '').replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
}

/** The lines `while read -r line || [[ -n $line ]]` yields. */
function readLines(text: string): string[] {
  const parts = text.split('\n');
  const tail = readTrim(parts.pop()!); // '' when the text ends with a newline
  const lines = parts.map(readTrim);
  if (tail !== '') lines.push(tail);
  return lines;
}

/** Words of an unquoted `${value//,/ }` expansion (split on IFS: space, tab, newline). */
function words(value: string): string[] {
  return value.replaceAll(',', ' ').split(/[ \t\n]+/).filter((w) => w !== '');
}

/**
 * Parses a wg-quick configuration (`file` is for messages only). Throws QuickConfigError for a bad
 * SaveConfig value, the only thing wg-quick refuses while parsing.
 */
export function parseQuickConfig(text: string, file: string): QuickConfig {
  void file;
  const iface: QuickInterface = {
    addresses: [],
    dns: [],
    dnsSearch: [],
    preUp: [],
    postUp: [],
    preDown: [],
    postDown: [],
    saveConfig: false,
  };
  let wgText = '';
  const wgLines: number[] = [];
  let inInterface = false;
  const lines = readLines(text);
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    const hash = line.indexOf('#');
    const stripped = hash < 0 ? line : line.slice(0, hash);
    const eq = stripped.indexOf('=');
    const key = trimSpace(eq < 0 ? stripped : stripped.slice(0, eq));
    const value = trimSpace(eq < 0 ? stripped : stripped.slice(eq + 1));
    if (key.startsWith('[')) inInterface = false;
    if (sameWord(key, '[Interface]')) inInterface = true;
    if (inInterface && handleInterfaceKey(iface, key, value, line)) continue;
    wgText += line + '\n';
    wgLines.push(index + 1);
  }
  return { interface: iface, wgText, wgLines };
}

/** The hook keys (lower case) and the list each one appends to. */
const HOOKS: Record<string, 'preUp' | 'postUp' | 'preDown' | 'postDown' | undefined> = {
  preup: 'preUp',
  postup: 'postUp',
  predown: 'preDown',
  postdown: 'postDown',
};

/** Applies one [Interface] line if its key is wg-quick's; false if the line belongs to wg. */
function handleInterfaceKey(iface: QuickInterface, key: string, value: string, line: string): boolean {
  const hook = (): string => {
    const eq = line.indexOf('=');
    return trimSpace(eq < 0 ? line : line.slice(eq + 1));
  };
  if (!/^[a-z]+$/i.test(key)) return false;
  const hookList = HOOKS[key.toLowerCase()];
  if (hookList) {
    iface[hookList].push(hook());
    return true;
  }
  switch (key.toLowerCase()) {
    case 'address':
      iface.addresses.push(...words(value));
      return true;
    case 'mtu':
      if (value === '') {
        delete iface.mtu;
        delete iface.mtuText;
      } else {
        iface.mtuText = value;
        if (/^[0-9]+$/.test(value)) iface.mtu = Number(value);
        else delete iface.mtu;
      }
      return true;
    case 'dns':
      for (const v of words(value)) (/^[0-9.]+$|^.*:.*$/.test(v) ? iface.dns : iface.dnsSearch).push(v);
      return true;
    case 'table':
      if (value === '') delete iface.table;
      else iface.table = value;
      return true;
    case 'saveconfig':
      if (sameWord(value, 'true')) iface.saveConfig = true;
      else if (sameWord(value, 'false')) iface.saveConfig = false;
      else throw new QuickConfigError(`\`${value}' is neither true nor false`);
      return true;
    default:
      return false;
  }
}

/**
 * From wg-quick's argument to its configuration file and interface name: a bare name (the pattern
 * above) means /etc/wireguard/NAME.conf; otherwise a path whose file name is NAME.conf. The file
 * must exist; the returned path is canonical (readlink -f), the name comes from the path as given.
 * Throws QuickConfigError with wg-quick's messages. The world-accessible warning is the caller's.
 */
export function resolveQuickTarget(
  arg: string,
  fs: { exists: (p: string) => boolean; realpath: (p: string) => string },
): { configFile: string; ifname: string } {
  const path = QUICK_NAME_RE.test(arg) ? `${QUICK_CONFIG_DIR}/${arg}.conf` : arg;
  if (!fs.exists(path)) throw new QuickConfigError(`\`${path}' does not exist`);
  const m = QUICK_FILE_RE.exec(path);
  if (!m) throw new QuickConfigError('The config file must be a valid interface name, followed by .conf');
  return { configFile: fs.realpath(path), ifname: m[2]! };
}

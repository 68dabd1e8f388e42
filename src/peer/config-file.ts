/**
 * Edits of a wg-quick configuration file that keep every byte the user wrote: a [Peer] block is
 * appended, a [Peer] section is cut out, a remembered-endpoint comment is added — nothing else
 * moves. Pure: the text is the file's bytes read as latin1 (one char per byte, so a round trip
 * through Buffer.from(text, 'latin1') is exact whatever encoding the comments are in).
 *
 * Sections are found as wg(8) finds them (config.c): whitespace deleted, the line cut at `#` and
 * NUL, `[Interface]` / `[Peer]` compared ASCII case-insensitively.
 *
 * Two comments carry what the file format has no key for:
 * - `# friendly_name=NAME` inside a [Peer] section: the peer's name, in the form
 *   prometheus_wireguard_exporter reads (3.4+); written exactly so, read by the rule `wgts exporter`
 *   uses (conf/config-lines.ts), so both always agree on a peer's name.
 * - `# wgts: endpoint=HOST:PORT` inside the [Interface] section: the endpoint clients are given
 *   when `peer add` has no --endpoint. In the file, so it travels with the configuration (backups,
 *   copies to another server) and is seen and edited where the rest is; wg and wg-quick skip it.
 */
import { friendlyName, readSections } from '../conf/config-lines.js';
import { deleteWgSpaces } from '../conf/parse.js';

export interface Line {
  /** Offset of the first byte of the line. */
  start: number;
  /** Offset just past the line's newline (or the end of the text). */
  end: number;
  /** The line without its line ending. */
  text: string;
}

export interface PeerSection {
  /** Index of the `[Peer]` line and one past the section's last line (the next section or the end). */
  header: number;
  stop: number;
  name?: string;
  /** Base64 text as written (spaces removed). */
  publicKey?: string;
  /** The AllowedIPs entries as written (spaces removed), in order. */
  allowedIps: string[];
}

export interface ConfigLayout {
  lines: Line[];
  /** Index of the [Interface] line and one past its section; undefined without one. */
  iface?: { header: number; stop: number };
  peers: PeerSection[];
  /** The line ending the file uses (`\r\n` if its first line has one), for lines we add. */
  eol: string;
}

const ENDPOINT_RE = /^[ \t]*#[ \t]*wgts:[ \t]*endpoint[ \t]*=(.*)$/;

export function splitLines(text: string): Line[] {
  const lines: Line[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    let body = text.slice(start, nl < 0 ? text.length : nl);
    if (body.endsWith('\r')) body = body.slice(0, -1);
    lines.push({ start, end, text: body });
    start = end;
  }
  return lines;
}

/** The friendly name a line carries, by the exporter's rule, or undefined. */
function nameOnLine(text: string): string | undefined {
  return text.includes('friendly_name') ? friendlyName(readSections(text)[0]!) : undefined;
}

/** What wg sees of a line: no whitespace, nothing from `#` or NUL on. */
function wgContent(line: string): string {
  let s = deleteWgSpaces(line);
  const nul = s.indexOf('\0');
  if (nul >= 0) s = s.slice(0, nul);
  const hash = s.indexOf('#');
  return hash >= 0 ? s.slice(0, hash) : s;
}

function sectionOf(line: string): 'interface' | 'peer' | undefined {
  const s = wgContent(line).toLowerCase();
  return s === '[interface]' ? 'interface' : s === '[peer]' ? 'peer' : undefined;
}

/** `Key = value` as wg reads it: the value (spaces removed) when the key matches, else undefined. */
function valueOf(line: string, key: string): string | undefined {
  const s = wgContent(line);
  const eq = s.indexOf('=');
  if (eq <= 0 || s.slice(0, eq).toLowerCase() !== key) return undefined;
  return s.slice(eq + 1);
}

export function layout(text: string): ConfigLayout {
  const lines = splitLines(text);
  const eol = text.indexOf('\r\n') >= 0 && text.indexOf('\r\n') === text.indexOf('\n') - 1 ? '\r\n' : '\n';
  const peers: PeerSection[] = [];
  let iface: ConfigLayout['iface'];
  let current: PeerSection | undefined;
  let inInterface = false;
  const close = (i: number): void => {
    if (current) current.stop = i;
    if (inInterface && iface) iface.stop = i;
    current = undefined;
    inInterface = false;
  };
  lines.forEach((line, i) => {
    const content = wgContent(line.text);
    if (content.startsWith('[')) {
      close(i);
      const kind = sectionOf(line.text);
      if (kind === 'peer') peers.push((current = { header: i, stop: lines.length, allowedIps: [] }));
      else if (kind === 'interface') {
        inInterface = true;
        iface ??= { header: i, stop: lines.length };
      }
      return;
    }
    if (!current) return;
    const name = nameOnLine(line.text);
    if (name !== undefined) current.name = name; // the last one wins, as for the exporter
    const pub = valueOf(line.text, 'publickey');
    if (pub !== undefined) current.publicKey = pub;
    const allowed = valueOf(line.text, 'allowedips');
    if (allowed !== undefined) current.allowedIps.push(...allowed.split(',').filter((a) => a !== ''));
  });
  close(lines.length);
  return { lines, ...(iface ? { iface } : {}), peers, eol };
}

/** The remembered endpoint (`# wgts: endpoint=`) of the [Interface] section, if any. */
export function rememberedEndpoint(l: ConfigLayout): string | undefined {
  if (!l.iface) return undefined;
  for (let i = l.iface.header + 1; i < l.iface.stop; i++) {
    const m = ENDPOINT_RE.exec(l.lines[i]!.text);
    if (m) return m[1]!.trim();
  }
  return undefined;
}

/** The text with a `# wgts: endpoint=` line after the last non-blank line of the [Interface] section. */
export function withRememberedEndpoint(text: string, l: ConfigLayout, endpoint: string): string {
  if (!l.iface) throw new Error('the configuration has no [Interface] section');
  let after = l.iface.header;
  for (let i = l.iface.header + 1; i < l.iface.stop; i++) if (l.lines[i]!.text.trim() !== '') after = i;
  const line = l.lines[after]!;
  // A last line without a newline gets one first, so the comment starts a line of its own.
  const lead = text[line.end - 1] === '\n' ? '' : l.eol;
  return text.slice(0, line.end) + `${lead}# wgts: endpoint=${endpoint}${l.eol}` + text.slice(line.end);
}

/**
 * The text with `block` (lines without endings) appended as a new section: the file's last line is
 * ended if it was not, and one blank line separates the block from what comes before.
 */
export function withAppendedSection(text: string, l: ConfigLayout, block: readonly string[]): string {
  let out = text;
  const last = l.lines[l.lines.length - 1];
  if (text !== '' && !text.endsWith('\n')) out += l.eol;
  if (last && last.text.trim() !== '') out += l.eol;
  return out + block.map((b) => b + l.eol).join('');
}

/**
 * The text without one [Peer] section: its header through its last line, except comment lines
 * that directly precede the next section's header (they describe that section). Blank lines that
 * separated the section from the one before are dropped with it when nothing follows.
 */
export function withoutSection(text: string, l: ConfigLayout, peer: PeerSection): string {
  let stop = peer.stop;
  if (stop < l.lines.length) {
    while (stop - 1 > peer.header && /^[ \t]*#/.test(l.lines[stop - 1]!.text) && nameOnLine(l.lines[stop - 1]!.text) === undefined) stop--;
  }
  let start = peer.header;
  if (stop >= l.lines.length) {
    while (start > 0 && l.lines[start - 1]!.text.trim() === '') start--;
  }
  const from = l.lines[start]!.start;
  const to = stop < l.lines.length ? l.lines[stop]!.start : text.length;
  return text.slice(0, from) + text.slice(to);
}

/** Finds a peer section by its name or its public key (base64 as written). */
export function findPeer(l: ConfigLayout, nameOrKey: string): PeerSection | undefined {
  return l.peers.find((p) => p.name === nameOrKey) ?? l.peers.find((p) => p.publicKey === nameOrKey);
}

/** The last value of a wg key (lower case) in the [Interface] section, spaces removed, as wg reads it. */
export function interfaceValue(l: ConfigLayout, key: string): string | undefined {
  if (!l.iface) return undefined;
  let value: string | undefined;
  for (let i = l.iface.header + 1; i < l.iface.stop; i++) value = valueOf(l.lines[i]!.text, key) ?? value;
  return value;
}

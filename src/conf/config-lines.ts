/**
 * A configuration file as written, line by line: sections, `Key = value` lines and comments, each
 * with its 1-based line number. This is what tools that talk *about* a file need (the linter, the
 * exporter's friendly names, reresolve's endpoint host names), where parse.ts reads the file the
 * way wg applies it (whitespace deleted, endpoints resolved) and keeps no positions.
 *
 * Lines split on '\n' (a '\r' before it is dropped); a comment runs from the first '#'; key and
 * value are trimmed as wg-quick trims them (wg-quick(8): `Key = value`). Imports nothing.
 */

export type SectionKind = 'interface' | 'peer' | 'unknown' | 'none';

export interface KeyLine {
  line: number;
  /** The key as written, trimmed. */
  key: string;
  /** The value as written, trimmed (before the comment). */
  value: string;
}

export interface CommentLine {
  line: number;
  /** The text after the first '#', untrimmed. */
  text: string;
}

export interface Section {
  kind: SectionKind;
  /** The header as written (`[Peer]`), '' for the lines before the first header. */
  header: string;
  /** Line of the header (0 for the lines before the first header). */
  line: number;
  keys: KeyLine[];
  comments: CommentLine[];
  /** Lines with content that are neither a header nor `Key = value`. */
  stray: { line: number; text: string }[];
}

const SPACE = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

function sectionKind(header: string): SectionKind {
  // wg compares after deleting whitespace (lint reports blanks inside the brackets, which wg-quick refuses).
  const h = header.replace(/[ \t\v\f\r]+/g, '').toLowerCase();
  if (h === '[interface]') return 'interface';
  if (h === '[peer]') return 'peer';
  return 'unknown';
}

/** Splits a configuration text into sections. Never throws: every line lands somewhere. */
export function readSections(text: string): Section[] {
  const sections: Section[] = [{ kind: 'none', header: '', line: 0, keys: [], comments: [], stray: [] }];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!;
    const hash = raw.indexOf('#');
    const content = (hash < 0 ? raw : raw.slice(0, hash)).replace(SPACE, '');
    const current = sections.at(-1)!;
    if (hash >= 0) current.comments.push({ line: i + 1, text: raw.slice(hash + 1) });
    if (content === '') continue;
    if (content.startsWith('[') && !content.includes('=')) {
      sections.push({ kind: sectionKind(content), header: content, line: i + 1, keys: [], comments: [], stray: [] });
      continue;
    }
    const eq = content.indexOf('=');
    if (eq < 0) current.stray.push({ line: i + 1, text: content });
    else current.keys.push({ line: i + 1, key: content.slice(0, eq).replace(SPACE, ''), value: content.slice(eq + 1).replace(SPACE, '') });
  }
  return sections;
}

/** The first value of `key` (case-insensitive, as wg matches keys) in a section, or undefined. */
export function valueOf(section: Section, key: string): KeyLine | undefined {
  const lower = key.toLowerCase();
  return section.keys.find((k) => k.key.toLowerCase() === lower);
}

/**
 * The friendly name of a peer section: a `# friendly_name=NAME` comment, the convention of
 * prometheus_wireguard_exporter (its README, "Friendly names"); NAME may hold spaces. Undefined
 * when the section has none; the last one wins.
 */
export function friendlyName(section: Section): string | undefined {
  let name: string | undefined;
  for (const c of section.comments) {
    const m = /^[ \t]*friendly_name[ \t]*=(.*)$/.exec(c.text);
    if (m) name = m[1]!.replace(SPACE, '');
  }
  return name;
}

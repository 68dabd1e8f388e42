/**
 * The module map of README's "Layout" as data, and the rules that check a source tree against it:
 * which folder may import which, that the protocol core does no I/O of its own, that each
 * third-party package (and each Node module that means I/O or native code) is imported only by the
 * files designated for it, that leaves stay leaves, and that no import cycle exists, type-only
 * imports included.
 *
 * Each rule is a function from a tree of sources to the violations it finds, so the same rule runs
 * on src/ (imports.test.ts) and on planted trees that must fail it (rules.test.ts). Sources are read
 * from TypeScript's syntax tree (syntax.ts): static, type-only, multi-line and dynamic imports,
 * `export … from`, `require()` and import types, anywhere in the file.
 */
import { builtinModules } from 'node:module';
import { posix } from 'node:path';
import type ts from 'typescript';
import { codeOf, importsOf, parse, type ImportSite } from './syntax.js';

// ---------------------------------------------------------------------------------------------
// The map.
// ---------------------------------------------------------------------------------------------

/**
 * Which src folders each folder may import (its own is always allowed), lowest layer first.
 * bin/ is outside src: it loads only the two bundles (imports.test.ts).
 */
export const FOLDERS: Record<string, { may: readonly string[]; why: string }> = {
  conf: { may: [], why: 'pure data, the containers.h + config.c role: every other folder speaks it, it speaks none' },
  crypto: { may: ['conf'], why: 'the primitives of the WireGuard paper, shared by the CLI (keys), the registry and the data plane' },
  netlink: { may: ['conf'], why: 'a translator between the model and kernel attributes' },
  uapi: { may: ['conf', 'crypto'], why: 'the UAPI text protocol: the codec both ends speak and the client Backend' },
  system: { may: ['conf', 'crypto', 'netlink', 'uapi'], why: 'system I/O shared by cli, quick, the registry and the data plane: subprocesses, files and resolver, backend choice, libc calls' },
  quick: { may: ['conf', 'crypto', 'netlink', 'uapi', 'system'], why: 'wg-quick steps: the system through system/run.ts, devices through system/ipc.ts' },
  registry: { may: ['conf', 'crypto', 'netlink', 'uapi', 'system'], why: 'peer discovery over DNS' },
  'userspace-fallback': {
    may: ['conf', 'crypto', 'netlink', 'uapi', 'system'],
    why: 'the data plane is its own program; it knows the model and nothing of the commands (of netlink/, only the numbers and the attribute walker its link watch reads; of system/, the libc calls in libc.ts, where the worker files are (worker-file.ts), the SIGIO wait (signal-io.ts), the release of start-up pages (resident-pages.ts) and the memmove copies (native-copy.ts))',
  },
  metrics: { may: ['conf'], why: 'the Prometheus exposition of the model and its HTTP endpoint; devices are collected by the command' },
  // src/peer/** is `wgts peer`'s logic: allocation and file edits (pure), one peer applied to the
  // device with quick's route rules, the QR codes; the commands' system services like quick.
  peer: { may: ['conf', 'crypto', 'netlink', 'system', 'quick'], why: 'peer onboarding: file edits pure, devices through system/ipc.ts, routes as quick makes them' },
  cli: { may: ['conf', 'crypto', 'netlink', 'uapi', 'system', 'quick', 'registry', 'metrics', 'peer'], why: 'argv -> model -> Backend -> text' },
};

/** Entry points of the two bundles (scripts/build.mjs): imported by nothing in src. */
export const ENTRY_POINTS = new Set(['cli/main', 'userspace-fallback/daemon']);

/**
 * The protocol core, which does no I/O: the primitives and their packet buffers, the UAPI codec,
 * and the data plane's protocol steps with the three interfaces (Clock, Bind, Tun) through which
 * time, sockets and the TUN device reach them.
 */
export const CORE = new Set([
  'crypto/primitives',
  'crypto/openssl-ffi',
  'crypto/queue-slab',
  'uapi/codec',
  'uapi/ascii-writer',
  ...['inet-checksum', 'virtio-net-hdr', 'gso-segment', 'gro-coalesce', 'tun-frames'].map((n) => `userspace-fallback/offload/${n}`),
  ...['messages', 'noise', 'cookie', 'replay', 'ratelimiter', 'allowedips', 'indextable', 'timers', 'peer', 'send', 'receive', 'device', 'clock', 'bind', 'tun'].map(
    (n) => `userspace-fallback/${n}`,
  ),
]);

/** Node modules a core file may load, per file, with the reason. */
export const CORE_NODE: Record<string, readonly string[]> = {
  // OpenSSL's X25519, BLAKE2s and ChaCha20-Poly1305 through node:crypto: computation, no I/O.
  'crypto/primitives': ['node:crypto'],
  // The one native-crypto file: it dlopens the system's libcrypto.so.3 once (createRequire loads
  // koffi lazily, so the CLI never pays for it) and then only computes ChaCha20-Poly1305 on the
  // caller's buffers, the same OpenSSL code node:crypto runs. It stays in the core because the
  // data path's seal and open call it per packet; primitives.ts checks it against node:crypto
  // before using it and falls back when it does not load.
  'crypto/openssl-ffi': ['node:module'],
};

/** Package -> the files allowed to import it, and why those. */
export const DESIGNATED: Record<string, { files: readonly string[]; why: string }> = {
  '@noble/hashes': { files: ['crypto/primitives'], why: 'keyed 16-byte BLAKE2s, which node:crypto lacks; crypto/primitives.ts is the one crypto module' },
  '@noble/ciphers': { files: ['crypto/primitives'], why: 'XChaCha20-Poly1305 for cookie replies, which node:crypto lacks' },
  '@noble/curves': { files: ['crypto/primitives'], why: 'X25519, if ever used at run time, in the one crypto module (today: a test oracle only)' },
  'node:crypto': { files: ['crypto/primitives'], why: 'OpenSSL X25519, ChaCha20-Poly1305, randomness: one auditable place' },
  koffi: {
    files: ['crypto/openssl-ffi', 'system/libc'],
    why: "FFI: libcrypto's ChaCha20-Poly1305 in crypto/openssl-ffi.ts, libc syscalls (ioctl, poll, recvmmsg, sendmmsg, sendto, SO_BINDTODEVICE) in system/libc.ts, which the I/O workers and the registry's sockets and UDP worker load too",
  },
  'node:module': {
    files: ['crypto/openssl-ffi', 'system/libc'],
    why: 'createRequire, only to load koffi lazily (the CLI never pays for it) or find its path for the workers',
  },
  'node:worker_threads': {
    files: [
      'userspace-fallback/workers', 'userspace-fallback/reader-worker', 'userspace-fallback/writer-worker', 'userspace-fallback/ring-reader', 'userspace-fallback/ring-writer',
      'registry/udp-batched', 'registry/udp-worker',
    ],
    why: "workers.ts starts the I/O workers (module files of their own); the workers and their main-thread ends use the API; the registry's UDP worker (udp-worker.ts) and its main-thread end (udp-batched.ts) likewise",
  },
  execa: { files: ['system/run'], why: 'run.ts is the one subprocess runner: argument arrays, `[#] cmd` narration, one error type' },
  'node:child_process': {
    files: ['userspace-fallback/daemon'],
    why: "wgts-userspace re-spawns itself into the background as wireguard-go does; it is a separate program and does not load system/run.ts's execa for one spawn",
  },
  qrcode: { files: ['peer/qr'], why: 'QR codes of client configurations (PNG and terminal) from one file' },
  'dns-packet': { files: ['registry/wire'], why: 'the DNS wire format of the registry in one codec file' },
  netlink: {
    files: ['netlink/socket'],
    why: "socket.ts is the one user of the netlink package (Node core has no AF_NETLINK); the data plane's link watch reads its RTMGRP_LINK socket through libc in a worker (link-watch.ts)",
  },
  'node:dgram': {
    files: ['userspace-fallback/udp', 'registry/client', 'registry/server'],
    why: "the data plane's Bind, and the registry's DNS client and server",
  },
  'node:net': {
    files: ['userspace-fallback/uapi-server', 'uapi/client', 'registry/client', 'registry/server'],
    why: 'the UAPI unix socket (both ends) and DNS over TCP in the registry',
  },
  'node:dns': {
    files: ['system/conf-io'],
    why: 'the system resolver (getaddrinfo) lives in system/, and the commands pass it into the conf/ parsers',
  },
  'node:http': { files: ['metrics/http-server'], why: "the exporter's one /metrics route; nothing else speaks HTTP" },
  'node:https': { files: [], why: 'no HTTPS anywhere (the exporter serves plain HTTP, as Prometheus exporters do)' },
  'node:vm': { files: [], why: 'no code evaluation' },
};

/**
 * Modules that import nothing (or only what is listed): everything else builds on them, so a new
 * import here is a new dependency for the whole tree.
 */
export const LEAVES: Record<string, readonly string[]> = {
  'conf/model': [],
  'conf/errno': [],
  'conf/sockaddr': [],
  'conf/version': ['../package.json'],
  'netlink/ifindex': [],
  'conf/ip': [],
  'conf/keys': ['conf/model'],
  'conf/backend': ['conf/model'],
  'cli/command': [],
  'cli/terminal': [],
  'system/run': [], // the subprocess runner: usable from cli/ and quick/ without cycles
  'netlink/attr': [],
  'crypto/openssl-ffi': [],
  'userspace-fallback/messages': ['conf/model', 'crypto/primitives'], // key, tag and MAC sizes only
  'userspace-fallback/allowedips': [],
  'userspace-fallback/indextable': [],
  'userspace-fallback/clock': [],
  'userspace-fallback/tun': [],
  'userspace-fallback/bind': ['conf/model'], // the endpoint type only
};

/** One concern per file: a file past this many lines holds more than one. */
export const MAX_LINES = 600;

// ---------------------------------------------------------------------------------------------
// The tree.
// ---------------------------------------------------------------------------------------------

/** A source file: its path below src/ without `.ts` (`cli/show`), and its text. */
export interface Source {
  mod: string;
  text: string;
}

export interface Edge {
  /** Importing module: `cli/show`. */
  from: string;
  /** `src/cli/show.ts:12`, for messages. */
  at: string;
  /** The specifier as written (null: not a string literal). */
  spec: string | null;
  /** For project files the src-relative module without extension (`conf/model`), else the package or `node:` name. */
  target: string;
  internal: boolean;
  typeOnly: boolean;
}

export interface Tree {
  mods: Set<string>;
  edges: Edge[];
  /** The code of each module without comments, strings or regular expressions (syntax.ts codeOf). */
  code: Map<string, string>;
  /** Line count of each module. */
  lines: Map<string, number>;
}

/** `@noble/hashes/blake2.js` -> `@noble/hashes`; `netlink/dist/raw.js` -> `netlink`; `fs/promises` -> `node:fs`. */
export function packageOf(spec: string): string {
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  if (name.startsWith('node:')) return name;
  return builtinModules.includes(name) ? `node:${name}` : name;
}

/** Parsed files by text: rules.test.ts builds many trees that differ in one file. */
const READ = new Map<string, { code: string; sites: ImportSite[] }>();

function read(mod: string, text: string): { code: string; sites: ImportSite[] } {
  const key = `${mod}\0${text}`;
  let r = READ.get(key);
  if (!r) {
    const sf: ts.SourceFile = parse(`${mod}.ts`, text);
    r = { code: codeOf(sf), sites: importsOf(sf) };
    READ.set(key, r);
  }
  return r;
}

export function treeOf(sources: readonly Source[]): Tree {
  const edges: Edge[] = [];
  const code = new Map<string, string>();
  const lines = new Map<string, number>();
  for (const { mod, text } of sources) {
    const r = read(mod, text);
    code.set(mod, r.code);
    lines.set(mod, text.split('\n').length - (text.endsWith('\n') ? 1 : 0));
    for (const i of r.sites) {
      const spec = i.spec;
      const internal = spec !== null && spec.startsWith('.');
      const target = spec === null ? '?' : internal ? posix.normalize(posix.join(posix.dirname(mod), spec)).replace(/\.(js|ts)$/, '') : packageOf(spec);
      edges.push({ from: mod, at: `src/${mod}.ts:${i.line}`, spec, target, internal, typeOnly: i.typeOnly });
    }
  }
  return { mods: new Set(sources.map((s) => s.mod)), edges, code, lines };
}

const folderOf = (mod: string) => mod.split('/')[0]!;
const show = (e: Edge) => `${e.at} imports '${e.spec}'${e.typeOnly ? ' (type-only)' : ''}`;
const offending = (t: Tree, ok: (e: Edge) => boolean) => t.edges.filter((e) => !ok(e)).map(show);

// ---------------------------------------------------------------------------------------------
// The rules: each returns what breaks it, [] when the tree keeps it.
// ---------------------------------------------------------------------------------------------

/** Strongly connected components of more than one module (Tarjan), each sorted. */
export function cycles(g: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) found.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return found.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** Uses of the process, timers and clocks in a module's code (tokens joined by spaces, syntax.ts codeOf). */
function globals(t: Tree, mod: string): string[] {
  return t.code.get(mod)?.match(/\b(setTimeout|setInterval|setImmediate|clearTimeout|clearInterval|clearImmediate|process|Date \. now|performance|require)\b/g) ?? [];
}

export const RULES: Record<string, (t: Tree) => string[]> = {
  'every import names its module with a string literal': (t) => t.edges.filter((e) => e.spec === null).map((e) => `${e.at}: computed module name`),

  'every src file sits in a folder with a rule': (t) => [...t.mods].filter((m) => !(folderOf(m) in FOLDERS)).map((m) => `src/${m}.ts`),

  'folders import only the folders their layer allows': (t) =>
    offending(t, (e) => {
      if (!e.internal || e.target.startsWith('..')) return true; // outside src: the rule below
      const [a, b] = [folderOf(e.from), folderOf(e.target)];
      return a === b || (FOLDERS[a]?.may.includes(b) ?? false);
    }),

  'nothing outside src/cli imports src/cli, and nothing outside the data plane imports it': (t) =>
    offending(t, (e) => {
      if (!e.internal) return true;
      const [a, b] = [folderOf(e.from), folderOf(e.target)];
      return a === b || (b !== 'cli' && b !== 'userspace-fallback');
    }),

  'the data plane takes from netlink/ only its numbers and attribute walker (constants.ts, attr.ts)': (t) =>
    offending(t, (e) => !e.internal || folderOf(e.from) !== 'userspace-fallback' || folderOf(e.target) !== 'netlink' || e.target === 'netlink/constants' || e.target === 'netlink/attr'),

  'nothing imports an entry point, nor anything outside src but package.json for the version': (t) =>
    offending(t, (e) => {
      if (!e.internal) return true;
      const outside = e.target.startsWith('..') && !(e.from === 'conf/version' && e.target === '../package.json');
      return !ENTRY_POINTS.has(e.target) && !outside;
    }),

  'the listed core files exist': (t) => [...CORE].filter((m) => !t.mods.has(m)).map((m) => `src/${m}.ts is listed in CORE but missing`),

  'the protocol core imports only core files, conf/, and its allowed Node modules': (t) =>
    offending(t, (e) => {
      if (!CORE.has(e.from)) return true;
      if (e.internal) return CORE.has(e.target) || folderOf(e.target) === 'conf';
      if (e.target.startsWith('node:')) return (CORE_NODE[e.from] ?? []).includes(e.target);
      return true; // third-party packages: DESIGNATED
    }),

  // Time reaches the core through Clock, sockets through Bind, the TUN through Tun.
  'the protocol core uses no global timer, no process, no wall clock, no require': (t) =>
    [...CORE].flatMap((mod) => {
      const uses = globals(t, mod);
      // crypto/openssl-ffi's require is the one createRequire made to load koffi (CORE_NODE).
      const allowed = mod === 'crypto/openssl-ffi' ? ['require'] : [];
      return uses.filter((u) => !allowed.includes(u)).map((u) => `src/${mod}.ts uses ${u.replace(/ /g, '')}`);
    }),

  'each designated package is imported only by its designated files': (t) =>
    offending(t, (e) => {
      const d = DESIGNATED[e.target];
      return e.internal || !d || d.files.includes(e.from);
    }),

  'Node built-ins are imported with the node: prefix, so the table cannot be bypassed': (t) =>
    offending(t, (e) => e.internal || !e.target.startsWith('node:') || (e.spec?.startsWith('node:') ?? false)),

  'conf/ loads no Node module or package (pure data; I/O is passed in)': (t) => offending(t, (e) => e.internal || folderOf(e.from) !== 'conf'),

  'conf/ uses no global timer, no process, no wall clock (system/conf-io.ts passes them in)': (t) =>
    [...t.mods]
      .filter((m) => folderOf(m) === 'conf')
      .flatMap((mod) => globals(t, mod).map((u) => `src/${mod}.ts uses ${u.replace(/ /g, '')}`)),

  'leaves import only what they are allowed': (t) =>
    offending(t, (e) => !e.internal || !(e.from in LEAVES) || LEAVES[e.from]!.includes(e.target)),

  'no import cycle among src modules, type-only imports included': (t) => {
    const g = new Map<string, string[]>([...t.mods].map((m) => [m, []]));
    for (const e of t.edges) if (e.internal && t.mods.has(e.target)) g.get(e.from)!.push(e.target);
    return cycles(g).map((c) => c.join(' <-> '));
  },

  [`no src file over ${MAX_LINES} lines`]: (t) =>
    [...t.lines].filter(([, n]) => n > MAX_LINES).map(([mod, n]) => `src/${mod}.ts: ${n} lines`),

  'no eval(), no new Function, no eval-mode Worker': (t) =>
    [...t.code].flatMap(([mod, code]) => [
      ...(/\beval \(|\bnew Function\b/.test(code) ? [`src/${mod}.ts: eval/new Function`] : []),
      ...(/\beval : true\b/.test(code) ? [`src/${mod}.ts: eval-mode Worker`] : []),
    ]),
};

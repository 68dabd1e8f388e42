/**
 * The module map of README's "Layout", checked on the import lines of src/**:
 * which folder may import which, that the protocol core of userspace-fallback does no I/O of its
 * own, and that each third-party package (and each Node module that means I/O or native code) is
 * imported only by the files designated for it.
 *
 * Imports are read with TypeScript's own pre-processor (static, type-only, multi-line, `export
 * ... from`, dynamic `import()` and `require()`), not a regex, so a wrapped import cannot hide.
 *
 * Where today's code breaks a rule that is right, the case sits in a KNOWN_* list with the owner's
 * name and a TODO. Each list can only shrink: a listed exception that no longer occurs fails the
 * test too, so it is removed when fixed instead of lingering as a permission.
 */
import { builtinModules } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT, SRC, tsFiles } from './sources.js';


interface Edge {
  /** Importing file, relative to src/ without `.ts`: `cli/show`. */
  from: string;
  /** `file:line` for messages. */
  at: string;
  /** The specifier as written. */
  spec: string;
  /** src-relative module without extension for project files (`conf/model`), else the package or `node:` name. */
  target: string;
  internal: boolean;
}

/** `@noble/hashes/blake2.js` -> `@noble/hashes`; `netlink/dist/raw.js` -> `netlink`; `fs/promises` -> `node:fs`. */
function packageOf(spec: string): string {
  const parts = spec.split('/');
  const name = spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  if (name.startsWith('node:')) return name;
  return builtinModules.includes(name) ? `node:${name}` : name;
}

const FILES = tsFiles(SRC).map((f) => ({ abs: f, mod: relative(SRC, f).replace(/\.ts$/, '') }));
const EDGES: Edge[] = FILES.flatMap(({ abs, mod }) => {
  const text = readFileSync(abs, 'utf8');
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles.map((i) => {
    const line = text.slice(0, i.pos).split('\n').length;
    const internal = i.fileName.startsWith('.');
    const target = internal
      ? relative(SRC, resolve(dirname(abs), i.fileName)).replace(/\.(js|ts)$/, '')
      : packageOf(i.fileName);
    return { from: mod, at: `src/${mod}.ts:${line}`, spec: i.fileName, target, internal };
  });
});

const folderOf = (mod: string) => mod.split('/')[0]!;

/**
 * Checks every edge against `allowed`; returns the offending edges as text, minus the known
 * exceptions, and fails separately on known exceptions that no longer occur.
 */
function check(rule: (e: Edge) => boolean, known: readonly Known[]): { bad: string[]; stale: string[] } {
  const bad: string[] = [];
  const seen = new Set<Known>();
  for (const e of EDGES) {
    if (rule(e)) continue;
    const k = known.find((x) => x.from === e.from && x.target === e.target);
    if (k) seen.add(k);
    else bad.push(`${e.at} imports '${e.spec}'`);
  }
  const stale = known.filter((k) => !seen.has(k)).map((k) => `${k.from} -> ${k.target} (fixed: remove it from the list)`);
  return { bad, stale };
}

interface Known {
  from: string;
  target: string;
  /** Who owns the fix, and what it is. */
  todo: string;
}

// ---------------------------------------------------------------------------------------------
// 1. Folder direction.
// ---------------------------------------------------------------------------------------------

/**
 * Which src folders each folder may import (its own is always allowed); the layers of README's
 * "Layout", lowest first. bin/ is outside src: it imports only the two bundles (checked below).
 */
const FOLDERS: Record<string, { may: readonly string[]; why: string }> = {
  conf: { may: [], why: 'pure data, the containers.h + config.c role: every other folder speaks it, it speaks none' },
  crypto: { may: ['conf'], why: 'the primitives of the WireGuard paper, shared by the CLI (keys), the registry and the data plane' },
  netlink: { may: ['conf'], why: 'a translator between the model and kernel attributes' },
  uapi: { may: ['conf', 'crypto'], why: 'the UAPI text protocol: the codec both ends speak and the client Backend' },
  system: { may: ['conf', 'crypto', 'netlink', 'uapi'], why: 'system I/O shared by cli and quick: subprocesses, files and resolver, backend choice' },
  quick: { may: ['conf', 'crypto', 'netlink', 'uapi', 'system'], why: 'wg-quick steps: the system through system/run.ts, devices through system/ipc.ts' },
  registry: { may: ['conf', 'crypto', 'netlink', 'uapi', 'system'], why: 'peer discovery over DNS' },
  'userspace-fallback': { may: ['conf', 'crypto', 'netlink', 'uapi'], why: 'the data plane is its own program; it knows the model and nothing of the commands (from netlink/ only the numbers, narrowed below)' },
  metrics: { may: ['conf'], why: 'the Prometheus exposition of the model and its HTTP endpoint; devices are collected by the command' },
  cli: { may: ['conf', 'crypto', 'netlink', 'uapi', 'system', 'quick', 'registry', 'metrics'], why: 'argv -> model -> Backend -> text' },
};

/** Entry points of the two bundles (scripts/build.mjs): imported by nothing in src. */
const ENTRY_POINTS = new Set(['cli/main', 'userspace-fallback/daemon']);

describe('import direction', () => {
  it('every src file sits in a folder with a rule', () => {
    const folders = new Set(FILES.map((f) => folderOf(f.mod)));
    expect([...folders].filter((f) => !(f in FOLDERS))).toEqual([]);
  });

  it('folders import only the folders their layer allows', () => {
    const { bad } = check((e) => {
      if (!e.internal || e.target.startsWith('..')) return true; // outside src: the test below
      const [a, b] = [folderOf(e.from), folderOf(e.target)];
      return a === b || (FOLDERS[a]?.may.includes(b) ?? false);
    }, []);
    expect(bad).toEqual([]);
  });

  it('nothing outside src/cli imports src/cli, and nothing outside the data plane imports it', () => {
    const { bad } = check((e) => {
      if (!e.internal) return true;
      const [a, b] = [folderOf(e.from), folderOf(e.target)];
      return a === b || (b !== 'cli' && b !== 'userspace-fallback');
    }, []);
    expect(bad).toEqual([]);
  });

  it('the data plane uses only the numbers (netlink/constants.ts) from netlink/', () => {
    const { bad } = check(
      (e) => !e.internal || folderOf(e.from) !== 'userspace-fallback' || folderOf(e.target) !== 'netlink' || e.target === 'netlink/constants',
      [],
    );
    expect(bad).toEqual([]);
  });

  it('nothing in src imports an entry point, and nothing imports outside src but the version from package.json', () => {
    const outside = (e: Edge) => e.target.startsWith('..') && !(e.from === 'conf/version' && e.target === '../package.json');
    const { bad } = check((e) => !e.internal || (!ENTRY_POINTS.has(e.target) && !outside(e)), []);
    expect(bad).toEqual([]);
  });

  it('bin/ only loads the two bundles built from the two entry points', () => {
    const build = readFileSync(join(ROOT, 'scripts/build.mjs'), 'utf8');
    // One build with code splitting: entry names become dist/<name>.mjs.
    expect(build).toMatch(/entryPoints: \{ wgts: 'src\/cli\/main\.ts', 'wgts-userspace': 'src\/userspace-fallback\/daemon\.ts' \}/);
    expect(build).toMatch(/outdir: 'dist'/);
    expect(build).toMatch(/outExtension: \{ '\.js': '\.mjs' \}/);
    for (const [bin, bundle] of [['wgts', 'wgts.mjs'], ['wgts-userspace', 'wgts-userspace.mjs']] as const) {
      const specs = ts.preProcessFile(readFileSync(join(ROOT, 'bin', bin), 'utf8'), true, true).importedFiles.map((i) => i.fileName);
      expect(specs, `bin/${bin}`).toEqual([`../dist/${bundle}`]);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// 2. The protocol core of userspace-fallback does no I/O.
// ---------------------------------------------------------------------------------------------

/** The protocol core (imports no I/O): the primitives, the packet buffers, the UAPI codec, and the data plane's steps and three interfaces. */
const CORE = new Set([
  'crypto/primitives',
  'crypto/queue-slab',
  'uapi/codec',
  ...['messages', 'noise', 'cookie', 'replay', 'ratelimiter', 'allowedips', 'indextable', 'timers', 'peer', 'send', 'receive', 'device', 'clock', 'bind', 'tun'].map(
    (n) => `userspace-fallback/${n}`,
  ),
]);

/** Node modules the core may load, per file, with the reason. */
const CORE_NODE: Record<string, readonly string[]> = {
  // OpenSSL's X25519/ChaCha20-Poly1305 via node:crypto; createRequire loads koffi lazily for the
  // libcrypto ChaCha20-Poly1305 fast path (the measured choice, see the comment in crypto/primitives.ts).
  'crypto/primitives': ['node:crypto', 'node:module'],
};

/** Code with comments and string contents removed, so prose may name what the code must not use. */
function codeOf(mod: string): string {
  const text = readFileSync(join(SRC, `${mod}.ts`), 'utf8');
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, ts.LanguageVariant.Standard, text);
  let out = '';
  for (let k = scanner.scan(); k !== ts.SyntaxKind.EndOfFileToken; k = scanner.scan()) {
    if (k === ts.SyntaxKind.StringLiteral || k === ts.SyntaxKind.NoSubstitutionTemplateLiteral) out += '""';
    else out += scanner.getTokenText();
    out += ' ';
  }
  return out;
}

describe('protocol core', () => {
  it('the listed core files exist', () => {
    const mods = new Set(FILES.map((f) => f.mod));
    expect([...CORE].filter((m) => !mods.has(m))).toEqual([]);
  });

  it('imports only core files, conf/, and no Node module beyond its allowance', () => {
    const { bad } = check((e) => {
      if (!CORE.has(e.from)) return true;
      if (e.internal) return CORE.has(e.target) || folderOf(e.target) === 'conf';
      if (e.target.startsWith('node:')) return (CORE_NODE[e.from] ?? []).includes(e.target);
      return true; // third-party packages: the table below
    }, []);
    expect(bad).toEqual([]);
  });

  it.each([...CORE])('%s uses no global timer, no process, no wall clock', (mod) => {
    const code = codeOf(mod);
    const uses = code.match(/\b(setTimeout|setInterval|setImmediate|clearTimeout|clearInterval|clearImmediate|process|Date \. now|performance|require)\b/g) ?? [];
    // Time reaches the core through Clock, sockets through Bind, the TUN through Tun.
    expect(uses).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 3. One importer per third-party package (and per Node module that means I/O or native code).
// ---------------------------------------------------------------------------------------------

/** Package -> the files allowed to import it, and why those. */
const DESIGNATED: Record<string, { files: readonly string[]; why: string }> = {
  '@noble/hashes': { files: ['crypto/primitives'], why: 'keyed 16-byte BLAKE2s, which node:crypto lacks; crypto/primitives.ts is the one crypto module' },
  '@noble/ciphers': { files: ['crypto/primitives'], why: 'XChaCha20-Poly1305 for cookie replies, which node:crypto lacks' },
  '@noble/curves': { files: ['crypto/primitives'], why: 'X25519, if ever used at run time, in the one crypto module (today: a test oracle only)' },
  'node:crypto': { files: ['crypto/primitives'], why: 'OpenSSL X25519, ChaCha20-Poly1305, randomness: one auditable place' },
  koffi: {
    files: ['crypto/primitives', 'userspace-fallback/native'],
    why: "FFI: libcrypto's ChaCha20-Poly1305 fast path in crypto/primitives.ts, libc syscalls (ioctl, poll, recvmmsg, sendto) in native.ts, which the I/O workers load too",
  },
  'node:module': {
    files: ['crypto/primitives'],
    why: 'createRequire, only to load koffi lazily (the CLI never pays for it)',
  },
  'node:worker_threads': {
    files: ['userspace-fallback/workers', 'userspace-fallback/reader-worker', 'userspace-fallback/writer-worker', 'userspace-fallback/ring-reader', 'userspace-fallback/ring-writer'],
    why: 'workers.ts starts the I/O workers (module files of their own); the workers and their main-thread ends use the API',
  },
  execa: { files: ['system/run'], why: 'run.ts is the one subprocess runner: argument arrays, `[#] cmd` narration, one error type' },
  'node:child_process': {
    files: ['userspace-fallback/daemon'],
    why: "wgts-userspace re-spawns itself into the background as wireguard-go does; it is a separate program and does not load system/run.ts's execa for one spawn",
  },
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

/** Rule right, code not there yet. (Empty: conf/'s Node-backed defaults moved to system/conf-io.ts.) */
const KNOWN_PACKAGE_EXCEPTIONS: readonly Known[] = [];

/** conf/ is pure data: no Node module at all. parse/args/quick take their I/O as required options. */
const KNOWN_CONF_IO: readonly Known[] = [];

describe('third-party packages', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const external = EDGES.filter((e) => !e.internal);

  it('each designated package is imported only by its designated files', () => {
    const { bad, stale } = check((e) => {
      const d = DESIGNATED[e.target];
      return e.internal || !d || d.files.includes(e.from);
    }, KNOWN_PACKAGE_EXCEPTIONS);
    expect(bad).toEqual([]);
    expect(stale).toEqual([]);
  });

  it('every non-Node package imported by src has a row in the table and is a runtime dependency', () => {
    const packages = [...new Set(external.map((e) => e.target).filter((t) => !t.startsWith('node:')))];
    expect(packages.filter((p) => !(p in DESIGNATED))).toEqual([]);
    // A devDependency imported at run time would break `npm install -g` (dist/ keeps koffi and netlink external).
    expect(packages.filter((p) => !(p in pkg.dependencies))).toEqual([]);
  });

  it('every runtime dependency is imported by some src file', () => {
    const used = new Set(external.map((e) => e.target));
    const KNOWN_UNUSED: string[] = [];
    const unused = Object.keys(pkg.dependencies).filter((d) => !used.has(d));
    expect(unused).toEqual(KNOWN_UNUSED);
  });

  it('Node built-ins are imported with the node: prefix, so the table cannot be bypassed', () => {
    const bare = external.filter((e) => e.target.startsWith('node:') && !e.spec.startsWith('node:'));
    expect(bare.map((e) => `${e.at} imports '${e.spec}'`)).toEqual([]);
  });

  it('conf/ loads no Node module (pure data; I/O is passed in)', () => {
    const { bad, stale } = check((e) => e.internal || folderOf(e.from) !== 'conf', KNOWN_CONF_IO);
    expect(bad).toEqual([]);
    expect(stale).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// 4. Leaves stay leaves, and no runtime import cycles.
// ---------------------------------------------------------------------------------------------

/**
 * Modules that import nothing (or only the model): everything else builds on them, so a
 * new import here is a new dependency for the whole tree.
 */
const LEAVES: Record<string, readonly string[]> = {
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
  'userspace-fallback/messages': ['conf/model', 'crypto/primitives'], // key, tag and MAC sizes only
  'userspace-fallback/allowedips': [],
  'userspace-fallback/indextable': [],
  'userspace-fallback/clock': [],
  'userspace-fallback/tun': [],
  'userspace-fallback/bind': ['conf/model'], // the endpoint type only
};

/** Relative imports that exist at run time (not `import type`, not all-`type` specifiers). */
function runtimeGraph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const { abs, mod } of FILES) {
    const sf = ts.createSourceFile(abs, readFileSync(abs, 'utf8'), ts.ScriptTarget.Latest, false);
    const out: string[] = [];
    for (const st of sf.statements) {
      if (!(ts.isImportDeclaration(st) || ts.isExportDeclaration(st)) || !st.moduleSpecifier || !ts.isStringLiteral(st.moduleSpecifier)) continue;
      if (!st.moduleSpecifier.text.startsWith('.')) continue;
      let typeOnly = false;
      if (ts.isImportDeclaration(st)) {
        const c = st.importClause;
        const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
        typeOnly = !!c && (c.isTypeOnly || (!c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      } else typeOnly = st.isTypeOnly;
      if (!typeOnly) out.push(relative(SRC, resolve(dirname(abs), st.moduleSpecifier.text)).replace(/\.(js|ts)$/, ''));
    }
    g.set(mod, out);
  }
  return g;
}

/** Strongly connected components of more than one module (Tarjan), each sorted. */
function cycles(g: Map<string, string[]>): string[][] {
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

describe('leaves and cycles', () => {
  it.each(Object.entries(LEAVES))('%s imports only %j from src', (mod, allowed) => {
    const targets = EDGES.filter((e) => e.from === mod && e.internal).map((e) => e.target);
    expect(targets.filter((t) => !allowed.includes(t))).toEqual([]);
  });

  it('no runtime import cycle among src modules', () => {
    expect(cycles(runtimeGraph())).toEqual([]);
  });
});

describe('no code from strings', () => {
  it('no eval(), no new Function, no eval-mode Workers', () => {
    const hits: string[] = [];
    for (const { mod } of FILES) {
      const code = codeOf(mod);
      if (/\beval\s*\(|\bnew\s+Function\b/.test(code)) hits.push(`${mod}: eval/new Function`);
      if (/\beval\s*:\s*true\b/.test(code)) hits.push(`${mod}: eval-mode Worker`);
    }
    expect(hits).toEqual([]);
  });
});

/**
 * The one subprocess runner of wgts, and the only importer of execa.
 *
 * Three ways to run something, all with argument arrays (a value read from a config file never
 * becomes shell syntax):
 * - `cmd(argv)`   — a system change: narrated on stderr as `[#] argv...` first, exactly like
 *                   wg-quick's `cmd()` (words joined by one space, no quoting); the child's stdout and
 *                   stderr go to ours, stderr is also kept for the error.
 * - `query(argv)` — a read-only look (`ip route show`, `nft list tables`): not narrated, output captured,
 *                   never throws on a non-zero exit (callers look at `.exitCode`); with `timeoutMs`,
 *                   a child still running then is stopped with everything it started.
 * - `hook(text, ifname)` — a user's PreUp/PostUp/... snippet: `%i` replaced, narrated, run by
 *                   `bash -c` with wg-quick's shell options (`set -e -o pipefail`, extglob, LC_ALL=C), so
 *                   `<(…)` and `$(wg show %i …)` work. The one place a shell is used.
 * Failures throw `RunError`, which carries the command line, the exit code (or signal) and stderr.
 */
import { execa } from 'execa';

/** A failed command: what ran, how it ended, what it said on stderr. */
export class RunError extends Error {
  readonly command: string;
  /** The exit status, or 128+signal number as a shell reports it; 127 when the program is missing. */
  readonly exitCode: number;
  readonly stderr: string;
  constructor(command: string, exitCode: number, stderr: string, options?: { cause?: unknown }) {
    const tail = stderr.trim().split('\n').filter(Boolean).pop();
    super(`\`${command}' failed with exit status ${exitCode}${tail ? `: ${tail}` : ''}`, options);
    this.name = 'RunError';
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export interface CmdOptions {
  /** Text fed to the child's stdin (e.g. an nft script for `nft -f -`). */
  input?: string;
  /** Extra environment for the child. */
  env?: Record<string, string>;
  /** How the narration shows this command when it differs from argv (e.g. `/dev/fd/63` for stdin). */
  shown?: string;
  /** The child may outlive the call (a daemonising userspace implementation): give it our stdio, keep no pipe. */
  detachedStdio?: boolean;
  /** Keep the child's stdout instead of passing it through. */
  captureStdout?: boolean;
}

export interface QueryResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** It ran past `timeoutMs` and was stopped (exitCode then says by which signal). */
  timedOut?: boolean;
}

export interface QueryOptions {
  input?: string;
  /**
   * Stop the command after this long: SIGTERM to its process group (it runs in one of its own, so
   * whatever it started stops too and no grandchild holds its pipes open), SIGKILL 2 s later.
   */
  timeoutMs?: number;
}

/** How long a timed-out command's process group has between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 2000;

/** Where narration goes; tests swap it. */
export let narrate: (line: string) => void = (line) => {
  process.stderr.write(`${line}\n`);
};

/** Replaces the narration sink (tests). Returns the previous one. */
export function setNarrator(fn: (line: string) => void): (line: string) => void {
  const previous = narrate;
  narrate = fn;
  return previous;
}

/** Escapes control characters so a hostile value cannot rewrite the terminal (execa's escape.js idea). */
function escapeControl(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function showArgv(argv: readonly string[]): string {
  return argv.join(' ');
}

/**
 * Narrates a change wgts makes itself rather than through a program (rtnetlink in src/quick/ip.ts),
 * as the command wg-quick would have run: `[#] argv...`, escaped like `cmd`'s line.
 */
export function narrateCommand(argv: readonly string[]): void {
  narrate(`[#] ${escapeControl(showArgv(argv))}`);
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

function statusOf(result: { exitCode?: number | undefined; signal?: string | undefined; code?: string | undefined }): number {
  if (result.code === 'ENOENT') return 127;
  if (result.code === 'EACCES') return 126;
  if (typeof result.exitCode === 'number') return result.exitCode;
  if (result.signal) return 128 + (SIGNALS[result.signal] ?? 0);
  return 1;
}

function checkArgv(argv: readonly string[]): void {
  if (argv.length === 0 || argv.some((a) => typeof a !== 'string' || a.includes('\0'))) {
    throw new TypeError(`argv must be a non-empty array of strings without NUL bytes, got ${JSON.stringify(argv)}`);
  }
}

/**
 * Runs a command that changes the system, narrated as `[#] ...` first. Resolves to the captured
 * stdout when `captureStdout` is set, else ''. Throws RunError on a non-zero exit or a missing program
 * (then stderr shows `<prog>: command not found` like bash, exit status 127).
 */
export async function cmd(argv: readonly string[], options: CmdOptions = {}): Promise<string> {
  checkArgv(argv);
  const shown = options.shown ?? showArgv(argv);
  narrate(`[#] ${escapeControl(shown)}`);
  const [file, ...args] = argv as [string, ...string[]];
  const result = await execa(file, args, {
    reject: false,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    stdout: options.detachedStdio ? 'inherit' : options.captureStdout ? 'pipe' : 'inherit',
    stderr: options.detachedStdio ? 'inherit' : ['pipe', 'inherit'],
    env: { LC_ALL: 'C', ...options.env },
    stripFinalNewline: false,
  });
  const status = statusOf(result as { exitCode?: number; signal?: string; code?: string });
  const stderr = typeof result.stderr === 'string' ? result.stderr : '';
  if (status === 127 && (result as { code?: string }).code === 'ENOENT') {
    process.stderr.write(`${file}: command not found\n`);
    throw new RunError(shown, 127, `${file}: command not found`, { cause: result });
  }
  if (status !== 0) throw new RunError(shown, status, stderr, { cause: result });
  return typeof result.stdout === 'string' ? result.stdout : '';
}

/** Runs a read-only command, silently. Never throws for a non-zero exit or a missing program. */
export async function query(argv: readonly string[], options: QueryOptions = {}): Promise<QueryResult> {
  checkArgv(argv);
  const [file, ...args] = argv as [string, ...string[]];
  const child = execa(file, args, {
    reject: false,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    env: { LC_ALL: 'C' },
    ...(options.timeoutMs !== undefined && { detached: true }),
  });
  let timedOut = false;
  const timers: NodeJS.Timeout[] = [];
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // The group is gone already.
    }
  };
  if (options.timeoutMs !== undefined) {
    timers.push(
      setTimeout(() => {
        timedOut = true;
        signalGroup('SIGTERM');
        timers.push(setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS));
      }, options.timeoutMs),
    );
  }
  try {
    const result = await child;
    return {
      exitCode: statusOf(result as { exitCode?: number; signal?: string; code?: string }),
      stdout: typeof result.stdout === 'string' ? result.stdout : '',
      stderr: typeof result.stderr === 'string' ? result.stderr : '',
      ...(timedOut ? { timedOut: true } : {}),
    };
  } finally {
    for (const t of timers) clearTimeout(t);
    // A command that ended by itself may have left children behind in its group: a timed-out one may not.
    if (timedOut) signalGroup('SIGKILL');
  }
}

/** Is `program` an executable found in PATH (bash's `type -p`)? */
export async function haveProgram(program: string): Promise<boolean> {
  const r = await query(['bash', '-c', 'type -p -- "$1" >/dev/null', 'bash', program]);
  return r.exitCode === 0;
}

/** A word bash reads back as exactly `s`: single-quoted, each `'` written as `'\\''`. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

/** Replaces every `%i` by the interface name, as wg-quick does (no escape exists). */
export function expandHook(text: string, ifname: string): string {
  return text.split('%i').join(ifname);
}

/** What a hook's shell holds besides the hook: assignments run first, and the positional parameters. */
export interface HookShell {
  /** Shell assignments (already quoted), one per line. */
  variables: string;
  /** $1, $2, ...: wg-quick runs hooks inside `execute_hooks "${POST_UP[@]}"`, so the phase's hooks. */
  args: readonly string[];
}

/**
 * Runs one wg-quick hook: `%i` expanded, narrated, then bash with wg-quick's options. The hook shares
 * our stdio directly (no pipe), so a background job it starts cannot hold wgts open. With `shell`,
 * it runs as wg-quick runs it: `eval "$hook"` after the variables are set (not exported, as in
 * wg-quick, so they reach the hook but not the programs it starts).
 */
export async function hook(text: string, ifname: string, shell?: HookShell): Promise<void> {
  const expanded = expandHook(text, ifname);
  narrate(`[#] ${escapeControl(expanded)}`);
  const script = shell ? `${shell.variables}hook=${shellQuote(expanded)}\neval "$hook"\n` : expanded;
  const result = await execa('bash', ['-O', 'extglob', '-e', '-o', 'pipefail', '-c', script, 'wgts', ...(shell?.args ?? [])], {
    reject: false,
    stdio: 'inherit',
    env: { LC_ALL: 'C' },
  });
  const status = statusOf(result as { exitCode?: number; signal?: string; code?: string });
  if (status !== 0) throw new RunError(expanded, status, '', { cause: result });
}

/**
 * Runs a program in the foreground with our stdio (no narration) and resolves to its exit status:
 * wg-quick's `exec sudo ...` re-run as root. 127 when the program is missing.
 */
export async function foreground(argv: readonly string[]): Promise<number> {
  checkArgv(argv);
  const [file, ...args] = argv as [string, ...string[]];
  const result = await execa(file, args, { reject: false, stdio: 'inherit' });
  const status = statusOf(result as { exitCode?: number; signal?: string; code?: string });
  if (status === 127) process.stderr.write(`${file}: command not found\n`);
  return status;
}

/**
 * What `show` and `show --json` share: the I/O they touch (time, terminal, backends) behind one
 * interface so tests can drive them, and wg's `Unable to list interfaces` report. Its own module
 * so show.ts and json.ts both import it and not each other.
 */
import type { WgDevice } from '../conf/model.js';
import { errorText, getDevice, listDevices } from '../system/ipc.js';

/** Everything show touches outside itself, so tests can drive it (time, terminal, backends). */
export interface ShowIo {
  out(s: string): void;
  err(s: string): void;
  env: NodeJS.ProcessEnv;
  isTTY: boolean;
  /** Wall-clock seconds, as time(NULL). */
  now(): bigint;
  list(): Promise<string[]>;
  get(name: string): Promise<WgDevice>;
}

export function processIo(): ShowIo {
  return {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    env: process.env,
    isTTY: process.stdout.isTTY === true,
    now: () => BigInt(Math.floor(Date.now() / 1000)),
    list: listDevices,
    get: getDevice,
  };
}

/** All interface names, or null after printing wg's `Unable to list interfaces` message. */
export async function listOrReport(io: ShowIo): Promise<string[] | null> {
  try {
    return await io.list();
  } catch (err) {
    io.err(`Unable to list interfaces: ${errorText(err)}\n`);
    return null;
  }
}

/** wg's help words for `show` (a lone argument). */
export const isHelp = (arg: string | undefined): boolean => arg === '-h' || arg === '--help' || arg === 'help';

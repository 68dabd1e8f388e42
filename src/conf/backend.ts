/**
 * The three calls every backend offers (the role of wireguard-tools' ipc.h): list, get, set.
 * The kernel (generic netlink) and userspace (UAPI socket) backends implement it; the CLI picks one
 * per interface and never knows which answered.
 */
import type { WgDevice } from './model.js';

export interface Backend {
  /** Names of the WireGuard interfaces this backend can see. */
  list(): Promise<string[]>;
  /** Full state of one interface. Throws WgError (errno set) on failure. */
  get(name: string): Promise<WgDevice>;
  /** Apply a (partial) configuration: only the fields given are changed. Throws WgError on failure. */
  set(device: WgDevice): Promise<void>;
}

/**
 * A failure with an errno-style code, as wg reports them ("Unable to modify interface: <strerror>").
 * `errno` is the positive errno number (EINVAL = 22, ENODEV = 19, EPROTO = 71 ...).
 */
export class WgError extends Error {
  readonly errno: number;
  /**
   * A line for the user after wg's own message (which is only the errno's text), where wgts knows
   * more than the errno says — e.g. which kernel feature is missing. Never holds secrets.
   */
  readonly hint?: string;
  constructor(errno: number, message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options);
    this.name = 'WgError';
    this.errno = errno;
    if (options?.hint) this.hint = options.hint;
  }
}

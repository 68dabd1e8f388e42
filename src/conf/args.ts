/**
 * `wgts set <iface> ...` arguments to the device model (wg's config_read_cmd in config.c; wg(8) `set`),
 * reusing the field parsers of parse.ts.
 *
 * - `listen-port`, `fwmark`, `private-key` are device options, accepted only before the first
 *   `peer`; `remove`, `endpoint`, `allowed-ips`, `persistent-keepalive`, `preshared-key` only after
 *   one. Anything else, or an option missing its value, is `Invalid argument: <token>`.
 * - Last value wins; repeated `allowed-ips` on one peer accumulate; the same `peer` twice gives two
 *   entries, applied in order.
 * - Only `allowed-ips` has its whitespace deleted; other values are taken as given.
 * - Keys come from files (so secrets stay off argv), read as parse_keyfile reads them.
 * The whole command line is parsed before anything is applied: any error throws FieldError.
 */
import { strerror } from './errno.js';
import { emptyDevice, emptyPeer, fillOrWipe, KEY_LEN, type Key, type WgDevice, type WgPeer } from './model.js';
import { KEY_B64_LEN } from './keys.js';
import {
  FieldError,
  deleteWgSpaces,
  isWgSpace,
  parseAllowedIps,
  parseEndpoint,
  parseFwmark,
  parseKeepalive,
  parseKeyB64,
  parsePort,
  type ResolveOptions,
} from './parse.js';

export interface SetArgsOptions extends ResolveOptions {
  /** Interface name put into the model (default ''). */
  name?: string;
  /** Reads a key file (the commands pass readFileSync, system/conf-io.ts); throw an error with a Node `code` on failure. */
  readFile: (path: string) => Uint8Array;
}

/**
 * Reads a key file as parse_keyfile does: the first 44 bytes are the key, then only whitespace may
 * follow; an empty file (or /dev/null) is the all-zero key, which removes the key. Key material:
 * the caller wipes the result.
 */
export function readKeyFile(path: string, readFile: (path: string) => Uint8Array): Key {
  let data: Uint8Array;
  try {
    data = readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    // fopen(3) opens a directory for reading; the read then fails, which wg reports as a length error.
    if (code === 'EISDIR') throw new FieldError('Invalid length key in key file');
    throw new FieldError(`fopen: ${strerror(code)}`);
  }
  try {
    if (data.length === 0) return new Uint8Array(KEY_LEN);
    if (data.length < KEY_B64_LEN) throw new FieldError('Invalid length key in key file');
    for (let i = KEY_B64_LEN; i < data.length; i++) {
      if (!isWgSpace(data[i]!)) {
        throw new FieldError(`Found trailing character in key file: \`${String.fromCharCode(data[i]!)}'`);
      }
    }
    // The 44 bytes become a C string: a NUL ends it early (and then fails the length check).
    const head = data.subarray(0, KEY_B64_LEN);
    const nul = head.indexOf(0);
    return parseKeyB64(Buffer.from(nul < 0 ? head : head.subarray(0, nul)).toString('latin1'));
  } finally {
    data.fill(0); // key material
  }
}

/** Parses the words after `wgts set <iface>`. Throws FieldError with wg's message, after wiping the keys read so far. */
export function parseSetArgs(args: string[], opts: SetArgsOptions): Promise<WgDevice> {
  return fillOrWipe(emptyDevice(opts.name ?? ''), (device) => readSetArgs(args, opts, device));
}

/** parseSetArgs's loop, filling `device`. */
async function readSetArgs(args: string[], opts: SetArgsOptions, device: WgDevice): Promise<void> {
  const readFile = opts.readFile;
  let peer: WgPeer | undefined;
  let i = 0;
  while (i < args.length) {
    const token = args[i]!;
    const value = args[i + 1];
    const hasValue = value !== undefined;
    if (token === 'listen-port' && hasValue && !peer) device.listenPort = parsePort(value, opts.services);
    else if (token === 'fwmark' && hasValue && !peer) device.fwmark = parseFwmark(value);
    else if (token === 'private-key' && hasValue && !peer) {
      device.privateKey?.fill(0);
      device.privateKey = readKeyFile(value, readFile);
    } else if (token === 'peer' && hasValue) {
      peer = emptyPeer(new Uint8Array(KEY_LEN));
      device.peers.push(peer);
      peer.publicKey = parseKeyB64(value);
    } else if (token === 'remove' && peer) {
      peer.remove = true;
      i += 1;
      continue;
    } else if (token === 'endpoint' && hasValue && peer) peer.endpoint = await parseEndpoint(value, opts);
    else if (token === 'allowed-ips' && hasValue && peer) {
      const parsed = parseAllowedIps(deleteWgSpaces(value), opts.warn);
      peer.allowedIps.push(...parsed.ips);
      peer.replaceAllowedIps = parsed.replace;
    } else if (token === 'persistent-keepalive' && hasValue && peer) peer.persistentKeepalive = parseKeepalive(value);
    else if (token === 'preshared-key' && hasValue && peer) {
      peer.presharedKey?.fill(0);
      peer.presharedKey = readKeyFile(value, readFile);
    } else throw new FieldError(`Invalid argument: ${token}`);
    i += 2;
  }
}

/**
 * Where UAPI sockets live: `/var/run/wireguard/<name>.sock`, the directory wg(8) and wireguard-go
 * have compiled in (wireguard.com/xplatform). Both ends look it up here, the client (wgts,
 * wgts quick) and the daemon (wgts-userspace), so one setting moves both.
 *
 * `WGTS_RUN_DIR` replaces `/var/run` (sockets then live in `$WGTS_RUN_DIR/wireguard`), for tests
 * that need a private socket directory; wg has no such knob. Read at each call, not at load, so a
 * test may set it after importing.
 */
import { join } from 'node:path';

export const UAPI_SOCKET_SUFFIX = '.sock';

/** The directory holding UAPI sockets: `/var/run/wireguard`, or `$WGTS_RUN_DIR/wireguard`. */
export function uapiSocketDir(): string {
  return join(process.env.WGTS_RUN_DIR || '/var/run', 'wireguard');
}

/** The UAPI socket of interface `name` in `dir`. */
export function uapiSocketPath(name: string, dir = uapiSocketDir()): string {
  return join(dir, name + UAPI_SOCKET_SUFFIX);
}

/**
 * Picks the backend per interface and merges device lists (the role of wg's ipc.c): a live UAPI
 * socket means userspace (wireguard-go, wgts-userspace, boringtun), otherwise the kernel over
 * generic netlink. No subcommand knows which one answered.
 */
import { WgError, type Backend } from '../conf/backend.js';
import { EPROTO, strerror } from '../conf/errno.js';
import type { WgDevice } from '../conf/model.js';
import { NetlinkBackend } from '../netlink/backend.js';
import { UapiBackend } from '../uapi/client.js';

let uapi: UapiBackend | undefined;
let kernel: NetlinkBackend | undefined;

function uapiBackend(): UapiBackend {
  return (uapi ??= new UapiBackend());
}

/** The kernel backend (it also rejects names that do not fit IFNAMSIZ, as upstream wg does). */
function kernelBackend(): NetlinkBackend {
  return (kernel ??= new NetlinkBackend());
}

/** The backend that serves `name`: UAPI when a live socket exists for it, else the kernel. */
export async function backendFor(name: string): Promise<Backend> {
  return (await uapiBackend().has(name)) ? uapiBackend() : kernelBackend();
}

/** All WireGuard interfaces: kernel links first (ifindex order), then UAPI sockets in directory order. */
export async function listDevices(): Promise<string[]> {
  const names = await kernelBackend().list();
  return names.concat(await uapiBackend().list());
}

/** Reads one device through its backend. Throws WgError. */
export async function getDevice(name: string): Promise<WgDevice> {
  return (await backendFor(name)).get(name);
}

/** Applies a (partial) configuration through the device's backend. Throws WgError. */
export async function setDevice(device: WgDevice): Promise<void> {
  return (await backendFor(device.name)).set(device);
}

/** The errno text of a backend failure (anything that is not a WgError reads as EPROTO). */
export function errorText(err: unknown): string {
  return strerror(err instanceof WgError ? err.errno : EPROTO);
}

/** The error's hint line for the user (WgError.hint) with its newline, or '' — a wgts addition to wg's output. */
export function errorHint(err: unknown): string {
  return err instanceof WgError && err.hint ? `${err.hint}\n` : '';
}

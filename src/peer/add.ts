/**
 * `peer add`: a new client of a server interface in one step, on the file the user already has.
 * Everything that can be refused is checked before anything is written; then the files are staged,
 * the device is changed, and the staged files are renamed into place — a failure at any point
 * undoes what was done, so the file, the device and the output files change together or not at all.
 * The client's private key lives only in memory (and in --out/--qr, if asked) and is wiped after.
 */
import { keyFromBase64, keyToBase64, keysEqual } from '../conf/keys.js';
import { wipeDevice, type Key, type WgDevice } from '../conf/model.js';
import { parseQuickConfig } from '../conf/quick.js';
import { generatePresharedKey, generatePrivateKey, publicKeyFromPrivate } from '../crypto/primitives.js';
import { allocate, formatPrefix, parsePrefixText, subnetOf, type Prefix } from './addresses.js';
import { addToDevice, runningDevice } from './apply.js';
import { clientConfigText, serverPeerBlock } from './blocks.js';
import { interfaceValue, layout, rememberedEndpoint, withAppendedSection, withRememberedEndpoint, type ConfigLayout } from './config-file.js';
import { configTarget, lockConfig, readConfigText, stage, type Staged } from './files.js';
import { InputError, checkEndpoint, checkName } from './input.js';

export interface AddOptions {
  iface: string;
  name: string;
  endpoint?: string;
  /** `auto` or `ADDR[,ADDR6]`. */
  ip?: string;
  dns: string[];
  /** Client AllowedIPs; undefined: full tunnel, unless `split`. */
  allowedIps?: string[];
  split: boolean;
  keepalive?: number;
  psk: boolean;
  out?: string;
  qr?: string;
  /** Makes the PNG of --qr (the caller's, so this module needs no QR code). */
  png?: (text: string) => Promise<Uint8Array>;
}

export interface AddResult {
  ifname: string;
  configFile: string;
  name: string;
  publicKey: string;
  addresses: string[];
  /** The client configuration (holds the client's private key: print it, don't keep it). */
  clientConfig: string;
  /** The interface was not up: only the file changed. */
  offline: boolean;
  /** The endpoint was remembered as the interface's default by this call. */
  rememberedEndpoint?: string;
  /** `SaveConfig = true`: wg-quick's save rewrites the file from the device, dropping every comment (the names too). */
  saveConfig: boolean;
}

/** Full tunnel, both families: with only IPv4 inside, the client's IPv6 would leave outside it. */
const FULL_TUNNEL = ['0.0.0.0/0', '::/0'];

export async function addPeer(o: AddOptions): Promise<AddResult> {
  checkName(o.name);
  const { ifname, configFile } = await configTarget(o.iface);
  const unlock = await lockConfig(ifname);
  const secrets: Key[] = [];
  const staged: Staged[] = [];
  try {
    const text = await readConfigText(configFile);
    const l = layout(text);
    if (!l.iface) throw new InputError(`${configFile} has no [Interface] section`);
    const quick = parseQuickConfig(text, configFile);
    if (l.peers.some((p) => p.name === Buffer.from(o.name, 'utf8').toString('latin1'))) throw new InputError(`a peer named \`${o.name}' already exists in ${configFile}`);

    const remembered = rememberedEndpoint(l);
    const given = o.endpoint ?? remembered;
    if (given === undefined) {
      throw new InputError(`no endpoint for ${ifname}: give --endpoint HOST:PORT (the address clients reach this server at); it is then remembered in ${configFile}`);
    }
    // A bare host gets the interface's ListenPort: the port clients must reach is the one it listens on.
    const listenPort = interfaceValue(l, 'listenport');
    const endpoint = checkEndpoint(isBareHost(given) && listenPort && /^[0-9]+$/.test(listenPort) ? `${given}:${listenPort}` : given);

    const own = quick.interface.addresses.map((a) => {
      const p = parsePrefixText(a);
      if (!p) throw new InputError(`${configFile}: Address \`${a}' is not an address`);
      return p;
    });

    const running = await runningDevice(ifname);
    let taken: Prefix[];
    let serverPublic: Key;
    try {
      taken = peerPrefixes(l, running?.device);
      serverPublic = serverPublicKey(l, running?.device, ifname, configFile, secrets);
    } finally {
      if (running) wipeDevice(running.device);
    }

    let addresses: Prefix[];
    try {
      addresses = allocate(own, taken, o.ip);
    } catch (e) {
      throw new InputError((e as Error).message);
    }

    const clientPrivate = generatePrivateKey();
    secrets.push(clientPrivate);
    const clientPublic = publicKeyFromPrivate(clientPrivate);
    const psk = o.psk ? generatePresharedKey() : undefined;
    if (psk) secrets.push(psk);

    let newText = text;
    let rememberedNow: string | undefined;
    if (remembered === undefined) {
      newText = withRememberedEndpoint(newText, l, endpoint);
      rememberedNow = endpoint;
    }
    const block = serverPeerBlock({ name: o.name, publicKey: clientPublic, ...(psk ? { presharedKey: psk } : {}), allowedIps: addresses });
    // The name is UTF-8 text; the file is handled as bytes (latin1), so encode it to bytes first.
    newText = withAppendedSection(newText, layout(newText), block.map((line) => Buffer.from(line, 'utf8').toString('latin1')));

    const allowed = o.allowedIps ?? (o.split ? dedupe(own.map((a) => formatPrefix(subnetOf(a)))) : FULL_TUNNEL);
    const clientConfig = clientConfigText({
      privateKey: clientPrivate,
      addresses,
      dns: o.dns,
      serverPublicKey: serverPublic,
      ...(psk ? { presharedKey: psk } : {}),
      endpoint,
      allowedIps: allowed,
      ...(o.keepalive ? { keepalive: o.keepalive } : {}),
    });

    staged.push(await stage(configFile, Buffer.from(newText, 'latin1')));
    if (o.out !== undefined) staged.push(await stage(o.out, clientConfig));
    if (o.qr !== undefined) {
      if (!o.png) throw new Error('no PNG encoder');
      staged.push(await stage(o.qr, await o.png(clientConfig)));
    }

    let undoDevice: (() => Promise<void>) | undefined;
    if (running) {
      undoDevice = await addToDevice(running.backend, ifname, { publicKey: clientPublic, ...(psk ? { presharedKey: psk } : {}), allowedIps: addresses }, quick.interface.table);
    }
    try {
      // The configuration file last: if an output file cannot be placed, the peer is not added.
      for (const s of [...staged].reverse()) await s.commit();
    } catch (e) {
      await undoDevice?.();
      throw e;
    }
    staged.length = 0;
    return {
      ifname,
      configFile,
      name: o.name,
      publicKey: keyToBase64(clientPublic),
      addresses: addresses.map(formatPrefix),
      clientConfig,
      offline: !running,
      saveConfig: quick.interface.saveConfig,
      ...(rememberedNow ? { rememberedEndpoint: rememberedNow } : {}),
    };
  } finally {
    for (const s of staged) await s.abort();
    for (const k of secrets) k.fill(0);
    await unlock();
  }
}

/** Every prefix a peer holds, in the file or on the running device: none of it is free. */
function peerPrefixes(l: ConfigLayout, device: WgDevice | undefined): Prefix[] {
  const taken: Prefix[] = [];
  for (const p of l.peers) {
    for (const a of p.allowedIps) {
      const prefix = parsePrefixText(a);
      if (prefix) taken.push(prefix);
    }
  }
  for (const p of device?.peers ?? []) for (const a of p.allowedIps) taken.push({ family: a.family, addr: a.addr.slice(), cidr: a.cidr });
  return taken;
}

/**
 * The server's public key for the client's [Peer]: from the file's PrivateKey (the key the
 * interface has after any restart), which must agree with the running device's — a client made
 * for one key while the server answers with the other would never connect. Without a PrivateKey in
 * the file (set by a hook), the device's. The decoded private key goes to `secrets` for wiping.
 */
function serverPublicKey(l: ConfigLayout, device: WgDevice | undefined, ifname: string, configFile: string, secrets: Key[]): Key {
  const running = device?.publicKey;
  const privText = interfaceValue(l, 'privatekey');
  if (privText === undefined) {
    if (!running) throw new InputError(`${ifname} has no private key, neither in ${configFile} nor on the running device`);
    return running.slice();
  }
  const serverPrivate = keyFromBase64(privText);
  if (!serverPrivate) throw new InputError(`${configFile}: PrivateKey is not a valid key`);
  secrets.push(serverPrivate);
  const fromFile = publicKeyFromPrivate(serverPrivate);
  if (running && !keysEqual(running, fromFile)) {
    throw new InputError(`the running ${ifname} has another private key than ${configFile}: restart it from the file, or fix the file`);
  }
  return fromFile;
}

/** `vpn.example.com`, `192.0.2.1` or `[2001:db8::1]`: a host without a port. */
function isBareHost(endpoint: string): boolean {
  return /^\[[^\]]*\]$/.test(endpoint) || !endpoint.includes(':');
}

function dedupe(list: string[]): string[] {
  return [...new Set(list)];
}

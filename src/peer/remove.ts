/**
 * `peer remove IFACE NAME|PUBKEY`: the peer's section leaves the file and the peer leaves the
 * running device (its session with it); every other peer is left alone — a single-peer REMOVE_ME,
 * not a resync. The file is staged first and renamed only once the device has accepted the change.
 */
import { keyFromBase64, keysEqual } from '../conf/keys.js';
import { wipeDevice } from '../conf/model.js';
import { parsePrefixText, type Prefix } from './addresses.js';
import { removeFromDevice, runningDevice } from './apply.js';
import { findPeer, layout, withoutSection } from './config-file.js';
import { configTarget, lockConfig, readConfigText, stage } from './files.js';
import { InputError } from './input.js';

export interface RemoveResult {
  ifname: string;
  configFile: string;
  name?: string;
  publicKey: string;
  inFile: boolean;
  onDevice: boolean;
}

export async function removePeer(iface: string, which: string): Promise<RemoveResult> {
  const { ifname, configFile } = await configTarget(iface);
  const unlock = await lockConfig(ifname);
  try {
    const text = await readConfigText(configFile);
    const l = layout(text);
    // Names in the layout are bytes as latin1 (config-file.ts); the argument is UTF-8 text.
    const section = findPeer(l, Buffer.from(which, 'utf8').toString('latin1'));
    const keyText = section?.publicKey ?? which;
    const publicKey = keyFromBase64(keyText);
    if (!section && !publicKey) throw new InputError(`no peer named \`${which}' in ${configFile}`);
    if (!publicKey) throw new InputError(`the peer \`${which}' in ${configFile} has no valid PublicKey`);

    const running = await runningDevice(ifname);
    let devicePeer: Prefix[] | undefined;
    if (running) {
      const p = running.device.peers.find((x) => keysEqual(x.publicKey, publicKey));
      if (p) devicePeer = p.allowedIps.map((a) => ({ family: a.family, addr: a.addr.slice(), cidr: a.cidr }));
      wipeDevice(running.device);
    }
    if (!section && !devicePeer) throw new InputError(`no peer \`${which}' in ${configFile} or on ${ifname}`);

    const staged = section ? await stage(configFile, Buffer.from(withoutSection(text, l, section), 'latin1')) : undefined;
    try {
      if (running && devicePeer) {
        const fromFile = (section?.allowedIps ?? []).map(parsePrefixText).filter((p): p is Prefix => p !== null);
        await removeFromDevice(running.backend, ifname, publicKey, [...devicePeer, ...fromFile]);
      }
      await staged?.commit();
    } finally {
      await staged?.abort();
    }
    return {
      ifname,
      configFile,
      ...(section?.name !== undefined ? { name: Buffer.from(section.name, 'latin1').toString('utf8') } : {}),
      publicKey: keyText,
      inFile: section !== undefined,
      onDevice: devicePeer !== undefined,
    };
  } finally {
    await unlock();
  }
}


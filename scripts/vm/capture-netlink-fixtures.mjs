#!/usr/bin/env node
// Regenerates test/netlink/fixtures/*.json: the exact generic netlink messages the real `wg`
// (Debian's 1.0.20210914) sends to the kernel and the kernel's dump replies, captured on an nlmon
// device inside the test VM. The unit tests then check wgts' encoder and decoder against real bytes
// without a kernel. Run as root on the host: node scripts/vm/capture-netlink-fixtures.mjs
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = join(repo, 'test', 'netlink', 'fixtures');

const key = (label) => createHash('sha256').update(`wgts-fixture-${label}`).digest('base64');

/** A config that needs several SET messages: 30 peers, one with 300 IPv4 /32s, one with 150 IPv6 /128s. */
function bigConfig() {
  const lines = ['[Interface]', `PrivateKey = ${key('private')}`, 'ListenPort = 51820', 'FwMark = 0x1234', ''];
  for (let i = 0; i < 30; i++) {
    lines.push('[Peer]', `PublicKey = ${key(`peer-${i}`)}`);
    if (i % 3 === 0) lines.push(`PresharedKey = ${key(`psk-${i}`)}`);
    if (i % 4 === 1) lines.push(`Endpoint = 192.0.2.${i}:${51820 + i}`);
    if (i % 4 === 2) lines.push(`Endpoint = [2001:db8::${i.toString(16)}]:4000`);
    if (i % 5 === 0) lines.push('PersistentKeepalive = 25');
    let ips = [`10.${i}.0.0/16`, `fd00:${i.toString(16)}::/64`];
    if (i === 4) ips = Array.from({ length: 300 }, (_, j) => `10.200.${j >> 8}.${j & 255}/32`);
    if (i === 11) ips = Array.from({ length: 150 }, (_, j) => `fd11::${j.toString(16)}/128`);
    if (i !== 7) lines.push(`AllowedIPs = ${ips.join(', ')}`); // peer 7: no allowed IPs at all
    lines.push('');
  }
  return lines.join('\n');
}

function smallConfig() {
  return [
    '[Interface]',
    'ListenPort = 0',
    '',
    '[Peer]',
    `PublicKey = ${key('peer-3')}`,
    'AllowedIPs = 10.77.0.0/24',
    'Endpoint = 198.51.100.7:9',
    '',
    '[Peer]',
    `PublicKey = ${key('peer-new')}`,
    `PresharedKey = ${key('psk-new')}`,
    'AllowedIPs = 0.0.0.0/0, ::/0',
    'PersistentKeepalive = 0',
    '',
  ].join('\n');
}

const cases = [
  { name: 'setconf-split', cmd: 'wg setconf wgk0 /tmp/big.conf', config: 'big' },
  { name: 'showconf-split', cmd: 'wg showconf wgk0', config: 'big' },
  { name: 'addconf', cmd: 'wg addconf wgk0 /tmp/small.conf', config: 'small' },
  {
    name: 'set-args',
    cmd: `wg set wgk0 listen-port 1234 peer ${key('peer-0')} remove peer ${key('peer-1')} endpoint [fe80::1%2]:7 allowed-ips 10.1.2.3/32,fd00::1/128 persistent-keepalive off preshared-key /dev/null`,
    config: 'small',
  },
];

// The VM script: set up the device from the big config, then capture each case on nlmon0.
const vmScript = [
  'set -e',
  `cat > /tmp/big.conf <<'EOF'\n${bigConfig()}EOF`,
  `cat > /tmp/small.conf <<'EOF'\n${smallConfig()}EOF`,
  'ip link add wgk0 type wireguard',
  'ip link add nlmon0 type nlmon && ip link set nlmon0 up',
];
for (const c of cases) {
  if (c.name === 'set-args' || c.name === 'addconf' || c.name === 'showconf-split') vmScript.push('wg setconf wgk0 /tmp/big.conf');
  vmScript.push(
    `tcpdump -U -q -i nlmon0 -w /tmp/${c.name}.pcap 2>/dev/null & TP=$!`,
    'sleep 1',
    `${c.cmd} > /tmp/${c.name}.out`,
    'sleep 1; kill $TP; wait $TP || true',
    `echo "@@CASE ${c.name} $(base64 -w0 /tmp/${c.name}.pcap) $(base64 -w0 /tmp/${c.name}.out)"`,
  );
}

const out = execFileSync('bash', [join(repo, 'test/kernel/run-vm.sh'), 'bash', '-c', vmScript.join('\n')], {
  encoding: 'utf8',
  maxBuffer: 256 << 20,
  stdio: ['ignore', 'pipe', 'inherit'],
});

/** Netlink messages of a LINKTYPE_NETLINK pcap, as hex, with direction. */
function messagesOf(pcap) {
  const msgs = [];
  let off = 24;
  while (off + 16 <= pcap.length) {
    const incl = pcap.readUInt32LE(off + 8);
    // Each record: a 16-byte cooked header (pkttype, ARPHRD_NETLINK, ..., netlink protocol), then the messages.
    const data = pcap.subarray(off + 32, off + 16 + incl);
    const protocol = pcap.readUInt16BE(off + 16 + 14);
    off += 16 + incl;
    if (protocol !== 16) continue; // NETLINK_GENERIC only
    let m = 0;
    while (m + 16 <= data.length) {
      const len = data.readUInt32LE(m);
      if (len < 16 || m + len > data.length) break;
      const msg = data.subarray(m, m + len);
      msgs.push({ type: msg.readUInt16LE(4), flags: msg.readUInt16LE(6), hex: msg.toString('hex') });
      m += (len + 3) & ~3;
    }
  }
  return msgs;
}

mkdirSync(outDir, { recursive: true });
for (const line of out.split('\n')) {
  const m = /^@@CASE (\S+) (\S*) ?(\S*)$/.exec(line.trim());
  if (!m) continue;
  const [, name, pcapB64, outB64] = m;
  const c = cases.find((x) => x.name === name);
  const msgs = messagesOf(Buffer.from(pcapB64, 'base64'));
  // The wireguard family id is whatever the controller answered for "wireguard" in this boot.
  const family = msgs.find((x) => x.type !== 0x10 && x.type >= 0x10 && x.flags & 1)?.type;
  const fixture = {
    source: `captured from Debian wg 1.0.20210914 and Linux 6.1 via nlmon: ${c.cmd}`,
    config: c.config === 'big' ? bigConfig() : smallConfig(),
    family,
    requests: msgs.filter((x) => x.type === family && x.flags & 1).map((x) => x.hex),
    replies: msgs.filter((x) => x.type === family && !(x.flags & 1)).map((x) => x.hex),
    stdout: Buffer.from(outB64 ?? '', 'base64').toString('utf8'),
  };
  writeFileSync(join(outDir, `${name}.json`), JSON.stringify(fixture, null, 1) + '\n');
  console.log(`${name}: ${fixture.requests.length} requests, ${fixture.replies.length} replies`);
}

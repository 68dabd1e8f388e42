/**
 * The Debian-vs-upstream deltas the differential test allows for (docs/compatibility.md), applied to the
 * `[#]` narration of `up`, plus the places where wgts narrates its own equivalent of a `wg` call.
 *
 * Debian wg-quick 1.0.20210914 → upstream 1.0.20260223 (what wgts follows):
 *  D1 PreUp runs before the link exists → after link creation, before the config push.
 *  D2 `ip link add IF type wireguard` → `ip link add dev IF type wireguard`.
 *  D3 `wg setconf IF /dev/fd/63` → `wg addconf ...` (wgts: `wgts addconf IF <(wgts quick strip FILE)`,
 *     through the Backend, not a `wg` process).
 *  D4 default route: `ip route add … table N` before the two `ip rule add` → after them.
 *  D5 src_valid_mark set always → only when not already 1 (a fresh namespace has 0: no visible change).
 *  D6 auto-MTU: largest endpoint-route MTU → smallest (the corpus has one endpoint route MTU: no change).
 *  D7 hooks cut at `#` → passed whole (the corpus has no `#` in hooks).
 *  D8 resolvconf prefix skipped when resolvconf is a symlink (the fake is a script: no change).
 * Implementations: wireguard-go's "not required" banner box is dropped, and `[#] wgts-userspace IF` reads
 * as `[#] wireguard-go IF` (the wgts-userspace run compares wgts' own data plane with wireguard-go).
 * wgts-only spellings: `wgts set IF fwmark N` for `wg set IF fwmark N`; `nft -f -` (script on stdin)
 * for `nft -f /dev/fd/63`; `iptables-restore -n` is the same.
 * wgts-only addition: the unreachable fallback behind a policy default route (no leak while the
 * device is gone, src/quick/policy.ts) — its narration and its route; asserted in crash.test.ts.
 */

const FALLBACK_ROUTE = /^unreachable default (dev lo )?table \d+ metric 4294967295 ?( pref medium)?\n/gm;
const FALLBACK_NARRATION = /^\[#\] ip -[46] route (add|delete) unreachable \S+\/0 table \d+ metric 4294967295$/;

/** A state snapshot without wgts' unreachable fallback routes. */
export function withoutFallback(snapshot: string): string {
  return snapshot.replace(FALLBACK_ROUTE, '');
}

const PUSH = '[#] <config push>';

export function normalizeUp(stderr: string, tool: 'debian' | 'wgts'): string[] {
  let lines = stderr.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines = lines.filter((l) => !/^[┌│└]/.test(l) && !(tool === 'wgts' && FALLBACK_NARRATION.test(l)));
  lines = lines.map((l) =>
    l
      .replace(/^\[#\] wg setconf \S+ \/dev\/fd\/\d+$/, PUSH)
      .replace(/^\[#\] wgts addconf \S+ <\(wgts quick strip \S+\)$/, PUSH)
      .replace(/^\[#\] wgts set /, '[#] wg set ')
      .replace(/^\[#\] wgts-userspace /, '[#] wireguard-go ')
      .replace(/^\[#\] nft -f (\/dev\/fd\/\d+|-)$/, '[#] nft -f <script>')
      .replace(/^\[#\] ip link add (\S+) type wireguard$/, '[#] ip link add dev $1 type wireguard'),
  );
  if (tool === 'debian') {
    // D1: move the PreUp block (everything between the warnings and `ip link add`) after link creation.
    const linkAt = lines.findIndex((l) => l.startsWith('[#] ip link add '));
    const pushAt = lines.indexOf(PUSH);
    if (linkAt > 0 && pushAt > linkAt) {
      const head = lines.slice(0, linkAt).filter((l) => l.startsWith('Warning: '));
      const preUp = lines.slice(0, linkAt).filter((l) => !l.startsWith('Warning: '));
      lines = [...head, ...lines.slice(linkAt, pushAt), ...preUp, ...lines.slice(pushAt)];
    }
    // D4: the table-N route moves after the two rules that follow it.
    for (let i = 0; i < lines.length; i++) {
      if (/^\[#\] ip -[46] route add \S+\/0 dev \S+ table \d+$/.test(lines[i]!) && /rule add not fwmark/.test(lines[i + 1] ?? '')) {
        const [route] = lines.splice(i, 1);
        lines.splice(i + 2, 0, route!);
        i += 2;
      }
    }
  }
  return lines;
}

/** `down`: only the hooks and their output are compared (wgts removes by journal, wg-quick by search). */
export function hookLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((l) => l !== '' && !/^\[#\] (ip|nft|resolvconf|sysctl|iptables-restore|ip6tables-restore|wg showconf|wgts showconf) /.test(l));
}

/** wireguard-go lists peers in Go map order (random): sort a config's [Peer] blocks before comparing. */
export function sortPeers(conf: string): string {
  const parts = conf.split(/\n(?=\[Peer\]\n)/);
  const head = parts.shift() ?? '';
  const peers = parts.map((p) => p.replace(/\n+$/, ''));
  peers.sort();
  return [head.replace(/\n+$/, ''), ...peers].join('\n\n') + '\n';
}

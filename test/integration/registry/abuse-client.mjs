// An abusive DNS-over-TCP client for the hardening suite, run inside a lab namespace:
//   node abuse-client.mjs trickle HOST PORT CONNECTIONS SECONDS
//     keeps CONNECTIONS connections open, each sending one byte of a never-finished query every
//     second and reconnecting when the server drops it; prints `open N` once N are connected and
//     `dropped N` (how many the server closed) at the end, after SECONDS.
//   node abuse-client.mjs pipeline HOST PORT QUERIES NAME
//     writes QUERIES pipelined PTR queries for NAME and never reads; prints `written` when Node has
//     taken them all and `closed` when the server ends the connection (exits then, or after 60 s).
import * as net from 'node:net';

const [mode, host, portText, countText, arg] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);

/** A framed DNS query (RFC 1035 §4.1, RFC 7766 §8) for `name` PTR, id `id`. */
function query(name, id) {
  const labels = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const body = Buffer.concat([Buffer.from([id >> 8, id & 255, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 12, 0, 1])]);
  return Buffer.concat([Buffer.from([body.length >> 8, body.length & 255]), body]);
}

if (mode === 'trickle') {
  let connected = 0;
  let dropped = 0;
  let announced = false;
  const open = () => {
    const c = net.connect({ host, port });
    let timer;
    c.on('connect', () => {
      connected++;
      if (!announced && connected >= count) {
        announced = true;
        console.log(`open ${count}`);
      }
      // The first byte of a length prefix claiming a 255-byte query, then one more byte a second.
      c.write(Buffer.from([0]));
      timer = setInterval(() => c.write(Buffer.from([0xff])), 1000);
    });
    c.on('error', () => {});
    c.on('close', () => {
      clearInterval(timer);
      dropped++;
      if (!stopped) setTimeout(open, 100);
    });
  };
  let stopped = false;
  for (let i = 0; i < count; i++) open();
  setTimeout(() => {
    stopped = true;
    console.log(`dropped ${dropped}`);
    process.exit(0);
  }, Number(arg) * 1000);
} else if (mode === 'pipeline') {
  const c = net.connect({ host, port });
  c.pause(); // never read: the answers pile up unless the server holds back
  c.on('error', () => {});
  c.on('connect', () => {
    const batch = [];
    for (let i = 0; i < count; i++) batch.push(query(arg, i & 0xffff));
    c.write(Buffer.concat(batch), () => console.log('flushed'));
    console.log('written');
  });
  c.on('close', () => {
    console.log('closed');
    process.exit(0);
  });
  setTimeout(() => process.exit(0), 60_000);
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}

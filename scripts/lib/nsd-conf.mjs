// nsd.conf(5) for one zone served from a zone file in a private directory, as the registry export
// tests and the registry bench start nsd: one server process on port 53 of `address`, no chroot,
// no database, no remote control, every state file inside `dir`.
export function nsdConf({ dir, address, zone, zoneFile, pidFile = `${dir}/nsd.pid`, answerCookie = false }) {
  return `server:
  ip-address: ${address}
  port: 53
  server-count: 1
  username: ""
  chroot: ""
  database: ""
  zonelistfile: "${dir}/zone.list"
  xfrdfile: "${dir}/xfrd.state"
  xfrdir: "${dir}"
  pidfile: "${pidFile}"
  logfile: "${dir}/nsd.log"
${answerCookie ? '  answer-cookie: yes\n' : ''}remote-control:
  control-enable: no
zone:
  name: ${zone}
  zonefile: "${zoneFile}"
`;
}

/**
 * Netlink numbers from the Linux UAPI headers (linux/netlink.h, linux/rtnetlink.h, linux/if.h) that
 * are needed without a netlink socket of the package's: the data plane's link watch reads its own
 * socket in a worker thread (src/userspace-fallback/link-watch.ts). No imports, so a worker bundle
 * that uses them stays free of the netlink package.
 */
export const AF_NETLINK = 16;
export const NETLINK_ROUTE = 0;
export const NLMSG_HDRLEN = 16;
/** struct ifinfomsg { u8 family; u8 pad; u16 type; i32 index; u32 flags; u32 change } */
export const IFINFOMSG_BYTES = 16;
export const IFINFO_OFF_INDEX = 4;
export const IFINFO_OFF_FLAGS = 8;
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
/** The multicast group of link notifications (bind()'s nl_groups bit mask). */
export const RTMGRP_LINK = 1;
export const IFF_UP = 0x1;
/** The MTU attribute of a link message (both the link watch and rtnl.ts read it). */
export const IFLA_MTU = 4;
/** struct sockaddr_nl { u16 family; u16 pad; u32 pid; u32 groups } */
export const SOCKADDR_NL_BYTES = 12;

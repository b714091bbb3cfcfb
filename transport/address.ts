/** Peer addresses: "host:port" for IPv4 (or "localhost"), "[v6]:port" for IPv6. No DNS. */
import { isIP } from 'node:net';
import { TransportError } from './errors.js';

/** Parse "host:port" / "[v6]:port" into parts; "localhost" means 127.0.0.1. */
export function parsePeer(peer: string): { host: string; port: number; key: string } {
  if (typeof peer !== 'string') throw invalid(`peer must be a "host:port" string, got ${typeof peer}`);
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(peer);
  if (!m) throw invalid(`peer must look like "127.0.0.1:7001" or "[::1]:7001", got ${JSON.stringify(peer)}`);
  let host = m[1] ?? m[2]!;
  if (host === 'localhost') host = '127.0.0.1';
  const port = Number(m[3]);
  if (isIP(host) === 0) throw invalid(`peer host must be an IP address or "localhost", got ${JSON.stringify(host)}`);
  if (port < 1 || port > 65535) throw invalid(`peer port must be in [1, 65535], got ${port}`);
  return { host, port, key: formatAddress(host, port) };
}

/** "host:port", or "[v6]:port" (any address with a colon is IPv6). */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function invalid(message: string): TransportError {
  return new TransportError('TRANSPORT_ERR_INVALID_ARGUMENT', message);
}

/**
 * Is `host` (an IP literal, as parsePeer gives it) on loopback: 127.0.0.0/8, ::1 in either
 * spelling, or 127/8 mapped into IPv6? There datagrams never cross a link with an MTU below 64 KiB,
 * and nobody off this host can send to it (pagewire node refuses other addresses without a key).
 * 0.0.0.0 and :: are every interface: not loopback.
 */
export function isLoopbackHost(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host === '0:0:0:0:0:0:0:1' || host.startsWith('::ffff:127.');
}

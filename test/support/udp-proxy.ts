/** The UDP relay of the tests lives with the benchmarks, which partition through it too. */
export { UdpProxy } from '../../bench/udp-proxy.js';

// Reliable messages over UDP: two endpoints in one process; `send` resolves once the peer acknowledged.
import { createEndpoint } from 'pagewire/transport';

const a = await createEndpoint(); // 127.0.0.1, a free port (or { host, port })
const b = await createEndpoint();
const received = new Promise<string>((resolve) => {
  b.once('message', ({ peer, data }) => resolve(`${new TextDecoder().decode(data)} (from ${peer})`));
});

await a.send(b.address, new TextEncoder().encode('hello'));
console.log(await received); // hello (from 127.0.0.1:...)

// Open endpoints keep the process running: close them when done.
await a.close();
await b.close();

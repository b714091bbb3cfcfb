/**
 * Reading a Server-Sent Events stream in tests (the live page map's `events`, demos/web.ts): each
 * `state` event's data parsed as JSON and handed to `onState`.
 */
import type { IncomingMessage } from 'node:http';

export function onStates<T = Record<string, unknown>>(res: IncomingMessage, onState: (view: T) => void): void {
  let buf = '';
  res.setEncoding('utf8');
  res.on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const chunk = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const data = chunk.split('\n').find((l) => l.startsWith('data: '));
      if (chunk.split('\n').includes('event: state') && data !== undefined) onState(JSON.parse(data.slice(6)) as T);
    }
  });
  res.on('error', () => undefined);
}

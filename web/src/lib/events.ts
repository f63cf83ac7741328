// Live updates from Tally's change stream (docs/api.md "Events"): GET /events/stream read with
// fetch (EventSource cannot send the Authorization header), resumed with Last-Event-ID after a
// drop, with a growing pause between attempts.
import { api } from './api';

export interface TallyEvent {
  id: number;
  type: string;
  created_at: string;
  data: Record<string, unknown>;
}

/** JavaScript's largest safe integer: an `after` beyond every event answers the newest id. */
const AFTER_EVERYTHING = Number.MAX_SAFE_INTEGER;
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 15_000;
/** A frame longer than this is not Tally's; the connection is dropped and made again. */
const FRAME_BYTES_MAX = 1_000_000;

/**
 * Splits Server-Sent Events text into complete frames' events, returning the rest (an
 * unfinished frame) to keep for the next chunk. Comments (heartbeats) and frames without data
 * are skipped.
 */
export function parseFrames(buffer: string): { events: TallyEvent[]; rest: string } {
  const events: TallyEvent[] = [];
  const normalised = buffer.replace(/\r\n?/g, '\n');
  const frames = normalised.split('\n\n');
  const rest = frames.pop() ?? '';
  for (const frame of frames) {
    const data = frame
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).replace(/^ /, ''))
      .join('\n');
    if (!data) continue;
    try {
      events.push(JSON.parse(data) as TallyEvent);
    } catch {
      // Not an event of ours: ignored, the stream goes on.
    }
  }
  return { events, rest };
}

export interface FollowOptions {
  onEvent: (event: TallyEvent) => void;
  /** Called after every (re)connection, so callers can refetch what a drop may have missed. */
  onConnected?: () => void;
  signal: AbortSignal;
  fetchImpl?: typeof fetch;
}

/** Follows the stream until `signal` aborts, from the newest event on. */
export async function followEvents({ onEvent, onConnected, signal, fetchImpl = fetch }: FollowOptions): Promise<void> {
  let lastId: number | null = null;
  let retryMs = RETRY_FIRST_MS;
  while (!signal.aborted) {
    try {
      const { url, headers } = await api.streamRequest('/events/stream');
      if (lastId === null) {
        const head = await api.events(AFTER_EVERYTHING, 1);
        lastId = head.last_id;
      }
      const response = await fetchImpl(url, {
        headers: { ...headers, Accept: 'text/event-stream', 'Last-Event-ID': String(lastId) },
        signal,
        cache: 'no-store',
      });
      if (!response.ok || !response.body) throw new Error(`event stream: ${response.status}`);
      retryMs = RETRY_FIRST_MS;
      onConnected?.();
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        const { events, rest } = parseFrames(buffer);
        if (rest.length > FRAME_BYTES_MAX) throw new Error('event stream: a frame too long');
        buffer = rest;
        for (const event of events) {
          lastId = event.id;
          onEvent(event);
        }
      }
    } catch {
      if (signal.aborted) return;
    }
    await sleep(retryMs, signal);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

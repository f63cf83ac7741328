import { describe, expect, it } from 'vitest';
import { parseFrames } from './events';

describe('parseFrames', () => {
  it('reads complete frames, skips heartbeats and keeps an unfinished frame', () => {
    const text =
      'retry: 1000\n: connected\n\n' +
      'id: 4\nevent: transfer.posted\ndata: {"id":4,"type":"transfer.posted","created_at":"t","data":{"amount":7}}\n\n' +
      ': heartbeat\n\n' +
      'id: 5\nevent: account.opened\ndata: {"id":5,';
    const { events, rest } = parseFrames(text);
    expect(events.map((event) => event.id)).toEqual([4]);
    expect(events[0].data.amount).toBe(7);
    expect(rest).toBe('id: 5\nevent: account.opened\ndata: {"id":5,');
    const next = parseFrames(rest + '"type":"account.opened","created_at":"t","data":{}}\r\n\r\n');
    expect(next.events.map((event) => event.type)).toEqual(['account.opened']);
    expect(next.rest).toBe('');
  });

  it('ignores a frame whose data is not JSON', () => {
    expect(parseFrames('data: nope\n\n').events).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { EventStreamParser } from './eventStream';

describe('EventStreamParser', () => {
  it('parses events split across chunks, with ids and names', () => {
    const p = new EventStreamParser();
    expect(p.push('id: 7\nevent: secret.updated\nda')).toEqual([]);
    expect(p.push('ta: {"seq":7}\n\n')).toEqual([{ id: '7', event: 'secret.updated', data: '{"seq":7}' }]);
  });

  it('ignores comments and keep-alives, joins multi-line data, accepts CRLF', () => {
    const p = new EventStreamParser();
    const events = p.push(': keep-alive\r\n\r\ndata: a\r\ndata: b\r\n\r\n');
    expect(events).toEqual([{ id: undefined, event: 'message', data: 'a\nb' }]);
  });

  it('keeps the last id for events that do not repeat it', () => {
    const p = new EventStreamParser();
    p.push('id: 3\ndata: x\n\n');
    expect(p.push('data: y\n\n')[0]?.id).toBe('3');
  });
});

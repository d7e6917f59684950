import { TICKET_KEYS_BYTES, TicketKeyRotation } from '../../../src/tls/ticket-keys';

describe('TicketKeyRotation', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('applies a 48-byte key set at start and a different one every interval, until stopped', () => {
    const applied: Buffer[] = [];
    const rotation = new TicketKeyRotation(60_000, (keys) => applied.push(keys));
    rotation.start();
    expect(applied).toHaveLength(1);
    expect(applied[0]).toHaveLength(TICKET_KEYS_BYTES);
    expect(rotation.keys).toBe(applied[0]);

    jest.advanceTimersByTime(59_999);
    expect(applied).toHaveLength(1);
    jest.advanceTimersByTime(1);
    expect(applied).toHaveLength(2);
    expect(applied[1].equals(applied[0])).toBe(false);
    expect(rotation.keys).toBe(applied[1]);

    jest.advanceTimersByTime(120_000);
    expect(applied).toHaveLength(4);
    expect(new Set(applied.map((k) => k.toString('hex'))).size).toBe(4);

    rotation.stop();
    jest.advanceTimersByTime(600_000);
    expect(applied).toHaveLength(4);
  });
});

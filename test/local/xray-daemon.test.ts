import { createSocket } from 'node:dgram';
import { Authorizer, type Principal } from '../../local/cloud/iam/authorizer.js';
import {
  flattenDocument,
  formatTraceHeader,
  newSegmentId,
  newTraceId,
  parseDaemonDatagram,
  parseTraceHeader,
  startLocalXRay,
  type LocalXRay,
} from '../../local/cloud/xray.js';

/**
 * The local X-Ray daemon (local/cloud/xray.ts): the daemon protocol (a header line, then one segment
 * document per datagram), what X-Ray keeps of a document, and the upload as the function's role.
 */
const HEADER = '{"format":"json","version":1}';
const TRACE = '1-6b0cc2c5-45ed57486bdbf4d7f1cce242';

const subsegment = (fields: Record<string, unknown> = {}) => ({
  name: '## index.handler',
  id: 'a1b2c3d4e5f60718',
  trace_id: TRACE,
  parent_id: '0011223344556677',
  type: 'subsegment',
  start_time: 1795998408.1,
  end_time: 1795998408.3,
  annotations: { runId: 'tickets-1', ColdStart: true },
  subsegments: [
    {
      name: 'DynamoDB',
      id: '1122334455667788',
      namespace: 'aws',
      start_time: 1795998408.15,
      end_time: 1795998408.2,
      aws: { operation: 'PutItem' },
    },
  ],
  ...fields,
});
const datagram = (document: unknown) => `${HEADER}\n${JSON.stringify(document)}`;

describe('the daemon protocol', () => {
  it('reads a header line followed by a segment document', () => {
    expect(parseDaemonDatagram(Buffer.from(datagram(subsegment())))).toMatchObject({
      name: '## index.handler',
      trace_id: TRACE,
      parent_id: '0011223344556677',
    });
  });

  it('refuses a datagram without the header, with another version, or with a broken document', () => {
    expect(() => parseDaemonDatagram(JSON.stringify(subsegment()))).toThrow(/no header line/);
    expect(() =>
      parseDaemonDatagram(`{"format":"json","version":2}\n${JSON.stringify(subsegment())}`),
    ).toThrow(/not the daemon's header/);
    expect(() => parseDaemonDatagram(`${HEADER}\n{"name":`)).toThrow(/not a segment document/);
  });

  it('refuses what X-Ray would: a bad trace id, a bad id, no end time while not in progress, an orphan subsegment', () => {
    expect(() => parseDaemonDatagram(datagram(subsegment({ trace_id: '1-abc-def' })))).toThrow(/trace_id/);
    expect(() => parseDaemonDatagram(datagram(subsegment({ id: 'xyz' })))).toThrow(/id/);
    expect(() => parseDaemonDatagram(datagram(subsegment({ end_time: undefined })))).toThrow(/end_time/);
    expect(
      parseDaemonDatagram(datagram(subsegment({ end_time: undefined, in_progress: true }))),
    ).toMatchObject({
      in_progress: true,
    });
    expect(() => parseDaemonDatagram(datagram(subsegment({ parent_id: undefined })))).toThrow(/parent_id/);
  });

  it('keeps a document and the subsegments nested in it as one entry each, with their parents', () => {
    const flat = flattenDocument(parseDaemonDatagram(datagram(subsegment())), 'Prepare');
    expect(flat).toEqual([
      expect.objectContaining({
        traceId: TRACE,
        id: 'a1b2c3d4e5f60718',
        parentId: '0011223344556677',
        name: '## index.handler',
        kind: 'subsegment',
        annotations: { runId: 'tickets-1', ColdStart: true },
        functionName: 'Prepare',
      }),
      expect.objectContaining({
        traceId: TRACE,
        parentId: 'a1b2c3d4e5f60718',
        name: 'DynamoDB',
        namespace: 'aws',
        operation: 'PutItem',
      }),
    ]);
  });
});

describe('trace headers', () => {
  it('round-trip Root, Parent and Sampled, a new trace id carrying its epoch second, and leave an undecided header undecided', () => {
    const root = newTraceId(new Date('2026-11-30T00:00:00Z'));
    expect(root).toMatch(/^1-6b0cbc80-[0-9a-f]{24}$/);
    const parent = newSegmentId();
    expect(parseTraceHeader(formatTraceHeader({ root, parent, sampled: true }))).toEqual({
      root,
      parent,
      sampled: true,
    });
    expect(parseTraceHeader(`Root=${root}`)).toEqual({ root });
    expect(parseTraceHeader('Root=nonsense;Sampled=1')).toBeUndefined();
  });
});

describe('the daemon', () => {
  const allowed: Principal = {
    arn: 'arn:aws:sts::000000000000:assumed-role/PrepareRole/Prepare',
    policies: [
      {
        name: 'tracing',
        document: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' },
          ],
        },
      },
    ],
  };
  const refused: Principal = { arn: 'arn:aws:sts::000000000000:assumed-role/SweepRole/Sweep', policies: [] };
  let xray: LocalXRay;
  let prepare: string;
  let sweep: string;
  const client = createSocket('udp4');

  beforeAll(async () => {
    xray = startLocalXRay({ authorizer: new Authorizer(new Map()) });
    prepare = await xray.daemonFor('Prepare', allowed);
    sweep = await xray.daemonFor('Sweep', refused);
  });
  afterAll(async () => {
    client.close();
    await xray.close();
  });

  const send = (address: string, text: string) =>
    new Promise<void>((resolve, reject) => {
      const [host, port] = address.split(':');
      client.send(text, Number(port), host, (error) => (error ? reject(error) : resolve()));
    });
  /** UDP on 127.0.0.1 is quick but not synchronous: wait for the daemon to have read what was sent. */
  const settled = async (done: () => boolean) => {
    for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    await xray.settle();
  };

  it('listens on 127.0.0.1, one ephemeral port per function', () => {
    expect(prepare).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(sweep).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(sweep).not.toBe(prepare);
  });

  it("keeps the segments of a function whose role may put trace segments, and refuses another's", async () => {
    await send(prepare, datagram(subsegment()));
    await send(sweep, datagram(subsegment({ id: 'ffffffffffffffff', subsegments: undefined })));
    await settled(() => xray.traces().length >= 2 && xray.denials().length >= 1);
    expect(xray.traces().map((t) => [t.functionName, t.name])).toEqual([
      ['Prepare', '## index.handler'],
      ['Prepare', 'DynamoDB'],
    ]);
    expect(xray.denials()).toEqual([
      {
        functionName: 'Sweep',
        principal: refused.arn,
        message: expect.stringContaining(
          'is not authorized to perform: xray:PutTraceSegments on resource: *',
        ),
        segments: 1,
      },
    ]);
  });

  it('drops a datagram it cannot read and says why', async () => {
    await send(prepare, 'hello');
    await settled(() => xray.rejected().length >= 1);
    expect(xray.rejected()).toEqual([
      { functionName: 'Prepare', reason: expect.stringContaining('no header line') },
    ]);
  });
});

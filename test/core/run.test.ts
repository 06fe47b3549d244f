import { canTransition, deriveRunId, familyOf, TERMINAL_STATUSES } from '../../functions/core/run.js';

describe('deriveRunId', () => {
  const source = { bucket: 'b', key: 'incoming/support/tickets v2.jsonl', versionId: 'v1' };

  it('gives the same id for the same object version, so duplicate events collapse', () => {
    expect(deriveRunId(source)).toBe(deriveRunId({ ...source }));
  });

  it('gives a new id for a new version of the same key, so dropping new data retrains', () => {
    expect(deriveRunId({ ...source, versionId: 'v2' })).not.toBe(deriveRunId(source));
  });

  it('is a valid Step Functions execution name with the file name in it', () => {
    const id = deriveRunId({ ...source, key: `incoming/x/${'é'.repeat(5)}${'a'.repeat(200)}.jsonl` });
    expect(id).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(deriveRunId(source)).toMatch(/^tickets-v2-[0-9a-f]{16}$/);
  });

  it('uses the ETag when the bucket has no versioning', () => {
    const a = deriveRunId({ bucket: 'b', key: 'k.jsonl', etag: '"1"' });
    expect(a).not.toBe(deriveRunId({ bucket: 'b', key: 'k.jsonl', etag: '"2"' }));
  });
});

describe('familyOf', () => {
  it('is the folder under incoming/, or "default" for files directly in it', () => {
    expect(familyOf('incoming/support/a.jsonl')).toBe('support');
    expect(familyOf('incoming/a.jsonl')).toBe('default');
  });
});

describe('run status transitions', () => {
  it('only move forward and never leave a terminal status', () => {
    expect(canTransition('RECEIVED', 'PREPARING')).toBe(true);
    expect(canTransition('TRAINING', 'TRAINING')).toBe(true);
    expect(canTransition('PREPARING', 'RECEIVED')).toBe(false);
    for (const terminal of TERMINAL_STATUSES) expect(canTransition(terminal, 'FAILED')).toBe(false);
  });

  it('allow a failure from every status that is not terminal', () => {
    for (const status of ['RECEIVED', 'PREPARING', 'UPLOADING', 'TRAINING', 'COLLECTING'] as const) {
      expect(canTransition(status, 'FAILED')).toBe(true);
    }
  });
});

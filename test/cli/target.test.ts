import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCloudUnavailableError } from '../../cli/aws-target.js';
import { chooseTarget, localConnectionPath } from '../../cli/target.js';

const dir = mkdtempSync(join(tmpdir(), 'tunedrop-target-'));
const connection = (name: string, pid: number) => {
  const path = join(dir, name);
  writeFileSync(
    path,
    JSON.stringify({
      version: 1,
      pid,
      region: 'us-east-1',
      credentials: { accessKeyId: 'op', secretAccessKey: 's' },
      endpoints: { DYNAMODB: 'http://127.0.0.1:4001', S3: 'http://127.0.0.1:4002' },
    }),
  );
  return { TUNEDROP_LOCAL_CLOUD: path };
};
// A process id no process has: the kernel's limit is below 2^22.
const GONE = 2 ** 22 + 17;

describe('which cloud the CLI talks to', () => {
  it('finds the local cloud on its own when it runs and no AWS target is named, and says so', async () => {
    const env = connection('running.json', process.pid);
    const chosen = await chooseTarget({}, env);
    expect(chosen.target.description).toBe('the local cloud');
    expect(chosen.target.client('DYNAMODB')).toEqual({
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:4001',
      credentials: { accessKeyId: 'op', secretAccessKey: 's' },
    });
    expect(chosen.notice).toContain('using the local cloud');
    expect(chosen.stack).toBe('Tunedrop');
  });

  it('goes to AWS when --stack, --region or --profile is given, even while the local cloud runs', async () => {
    const env = connection('running2.json', process.pid);
    for (const values of [{ stack: 'Prod' }, { region: 'eu-west-1' }, { profile: 'ops' }]) {
      const chosen = await chooseTarget(values, env);
      expect(chosen.target.description).toBe('AWS');
    }
    const named = await chooseTarget({ stack: 'Prod', region: 'eu-west-1', profile: 'ops' }, env);
    expect(named.target.client('S3')).toEqual({ region: 'eu-west-1', profile: 'ops' });
    expect(named.stack).toBe('Prod');
    expect(named.notice).toBeUndefined();
  });

  it("goes to AWS with the SDK's own settings when the connection file is stale or absent", async () => {
    const stale = await chooseTarget({}, connection('stale.json', GONE));
    expect(stale.target.description).toBe('AWS');
    expect(stale.target.client('DYNAMODB')).toEqual({});
    expect(stale.notice).toBeUndefined();
    expect(
      (await chooseTarget({}, { TUNEDROP_LOCAL_CLOUD: join(dir, 'absent.json') })).target.description,
    ).toBe('AWS');
  });

  it('refuses --local when the local cloud is not running, naming how to start it', async () => {
    await expect(chooseTarget({ local: true }, connection('stale2.json', GONE))).rejects.toThrow(
      LocalCloudUnavailableError,
    );
    await expect(
      chooseTarget({ local: true }, { TUNEDROP_LOCAL_CLOUD: join(dir, 'absent.json') }),
    ).rejects.toThrow(/npm run local/);
  });

  it('looks for the connection file in the project, wherever the CLI runs', () => {
    expect(localConnectionPath({})).toMatch(/\/\.tunedrop\/local-cloud\.json$/);
    expect(localConnectionPath({})).not.toContain('/cli/');
  });
});

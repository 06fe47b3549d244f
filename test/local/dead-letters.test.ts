import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { main } from '../../cli/main.js';
import type { LocalCloud } from '../../local/cloud/index.js';
import { createTableFromTemplate } from '../../local/cloud/dynamodb.js';
import { SAMPLE, startLocalHarness, type LocalHarness } from '../support/local-harness.js';

/** An event that fails through Lambda's retries lands in the dead-letter queue, and redrive brings it back. */
let harness: LocalHarness;
let cloud: LocalCloud;

beforeAll(async () => {
  harness = await startLocalHarness({ apiKey: 'sk-dlq' });
  cloud = harness.cloud;
});
afterAll(() => harness?.close());

it('an upload whose validation keeps failing is dead-lettered, and a redrive after the fix records its run', async () => {
  const dynamo = new DynamoDBClient({ ...cloud.clientConfig, endpoint: cloud.endpoints.DYNAMODB });
  const table = cloud.plan.tables[0]!;
  // The outage: the runs table is gone, so validate fails on every attempt.
  await dynamo.send(new DeleteTableCommand({ TableName: table.name }));
  const runId = await cloud.drop(SAMPLE, 'incoming/support/during-outage.jsonl');
  for (let i = 0; i < 100 && (await cloud.peekDeadLetters()).length === 0; i++)
    await new Promise((r) => setTimeout(r, 50));
  const [letter] = await cloud.peekDeadLetters();
  expect(JSON.parse(letter!.body)).toMatchObject({
    requestContext: { condition: 'RetriesExhausted', functionArn: expect.stringContaining('Validate') },
    requestPayload: {
      Records: [
        expect.objectContaining({
          s3: expect.objectContaining({
            object: expect.objectContaining({ key: 'incoming/support/during-outage.jsonl' }),
          }),
        }),
      ],
    },
  });

  // The fix, then the redrive.
  await createTableFromTemplate(dynamo, table.name, table.properties);
  // As a user would: `npx tunedrop redrive` finds the queue through the stack's outputs.
  const printed: string[] = [];
  expect(await main(['redrive'], (t) => void printed.push(t))).toBe(0);
  expect(printed.join('')).toContain('Redrove 1 event.');
  expect(await cloud.peekDeadLetters()).toEqual([]);
  expect(await cloud.waitForRun(runId, { timeoutMs: 30_000 })).toMatchObject({ status: 'SUCCEEDED' });
  dynamo.destroy();
});

import { actionsOf, FUNCTION_PERMISSIONS, type FunctionStep } from '../../functions/adapters/permissions.js';
import { ENTRY_METADATA_KEY } from '../../lib/tunedrop-function.js';
import { synthTemplate } from '../support/synth.js';

/**
 * Each function's role grants exactly the calls its code makes (functions/adapters/permissions.ts, where
 * each adapter's calls are listed), besides what every function has (X-Ray tracing) and what a function
 * with an on-failure destination needs (sqs:SendMessage to the dead-letter queue). An extra grant or a
 * missing one fails here; test/local/iam-enforcement.test.ts checks that the calls the functions make in
 * the end-to-end scenarios stay inside the same list.
 */
const { template } = synthTemplate();
const functions = template.findResources('AWS::Lambda::Function');
const policies = Object.values(template.findResources('AWS::IAM::Policy'));

const TRACING = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'];
/** Its own log group's streams (lib/tunedrop-function.ts), instead of AWSLambdaBasicExecutionRole. */
const LOGGING = ['logs:CreateLogStream', 'logs:PutLogEvents'];
const DEAD_LETTERS = ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'];
const WITH_DESTINATION = new Set<FunctionStep>([
  'validate',
  'validate-embeddings',
  'reconcile',
  'retrain',
  'family-settings',
]);

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

function roleStatements(step: string): Statement[] {
  const fn = Object.values(functions).find(
    (f) => f.Metadata?.[ENTRY_METADATA_KEY] === `functions/${step}/handler.ts`,
  );
  if (!fn) throw new Error(`no function for ${step}`);
  const role = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return policies
    .filter((p) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === role))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

const granted = (step: string) => [...new Set(roleStatements(step).flatMap((s) => [s.Action].flat()))].sort();

describe.each(Object.keys(FUNCTION_PERMISSIONS) as FunctionStep[])('the %s role', (step) => {
  it('grants exactly the actions its code calls, tracing, and writing to its own log group', () => {
    const expected = [
      ...actionsOf(FUNCTION_PERMISSIONS[step]),
      ...TRACING,
      ...LOGGING,
      ...(WITH_DESTINATION.has(step) ? DEAD_LETTERS : []),
    ].sort();
    expect(granted(step)).toEqual([...new Set(expected)].sort());
  });

  it('grants no wildcard action and never touches the table indexes it does not query', () => {
    expect(granted(step).filter((a) => a.includes('*'))).toEqual([]);
    const indexResources = JSON.stringify(roleStatements(step).map((s) => s.Resource));
    const permissions = FUNCTION_PERMISSIONS[step] as {
      queriesJobIndex?: boolean;
      queriesFamilyIndex?: boolean;
      queriesActiveRunIndex?: boolean;
      registry?: readonly string[];
    };
    expect(indexResources.includes('/index/byProviderJob')).toBe(permissions.queriesJobIndex === true);
    expect(indexResources.includes('/index/byFamily')).toBe(permissions.queriesFamilyIndex === true);
    expect(indexResources.includes('/index/byActiveStatus')).toBe(permissions.queriesActiveRunIndex === true);
    expect(indexResources.includes('/index/byModel')).toBe(
      permissions.registry?.includes('dynamodb:Query') === true,
    );
  });
});

describe('the function roles', () => {
  it('attach no AWS managed policy: their log writes are scoped to their own log group', () => {
    const roles = template.findResources('AWS::IAM::Role');
    for (const fn of Object.values(functions).filter((f) => f.Metadata?.[ENTRY_METADATA_KEY])) {
      const role = roles[(fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0]]!;
      expect(role.Properties.ManagedPolicyArns ?? []).toEqual([]);
    }
    const logStatements = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
      .filter((st) => [st.Action].flat().includes('logs:PutLogEvents'));
    for (const statement of logStatements)
      expect(statement.Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/Logs/), 'Arn'] });
  });
});

describe('the bucket', () => {
  it('lists only under incoming/ where a function lists the drops of a family', () => {
    for (const step of Object.keys(FUNCTION_PERMISSIONS) as FunctionStep[]) {
      const permissions = FUNCTION_PERMISSIONS[step] as { listsIncoming?: boolean };
      const conditioned = roleStatements(step).filter(
        (statement) =>
          [statement.Action].flat().includes('s3:ListBucket') &&
          JSON.stringify((statement as { Condition?: unknown }).Condition ?? null) ===
            JSON.stringify({ StringLike: { 's3:prefix': 'incoming/*' } }),
      );
      expect({ step, lists: conditioned.length > 0 }).toEqual({
        step,
        lists: permissions.listsIncoming === true,
      });
    }
  });
  it('can be written under incoming/ by no function, and deleted from by none', () => {
    for (const step of Object.keys(FUNCTION_PERMISSIONS)) {
      for (const statement of roleStatements(step)) {
        const actions = [statement.Action].flat();
        expect(actions.filter((a) => a.startsWith('s3:Delete'))).toEqual([]);
        if (actions.includes('s3:PutObject'))
          expect(JSON.stringify(statement.Resource)).not.toContain('incoming/');
      }
    }
  });
});

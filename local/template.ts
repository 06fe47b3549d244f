import { randomBytes } from 'node:crypto';

/**
 * Reads a synthesized CloudFormation template into what local mode must create: the buckets, tables,
 * secrets, functions (with their environment and source entry), state machines and S3 notifications it
 * declares, with every Ref and Fn::GetAtt resolved to a local name or ARN. Local mode is built from the
 * template, so it cannot drift from what `cdk deploy` creates.
 */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Resource {
  Type: string;
  Properties?: Record<string, Json>;
  Metadata?: Record<string, Json>;
}
export interface CloudFormationTemplate {
  Resources: Record<string, Resource>;
}

export interface LocalFunction {
  logicalId: string;
  arn: string;
  /** Source entry relative to the project root, from the template metadata. */
  entry: string;
  environment: Record<string, string>;
  timeoutSeconds: number;
}

export interface LocalNotification {
  bucket: string;
  functionArn: string;
  events: string[];
  prefix?: string;
  suffix?: string;
}

export interface LocalRule {
  logicalId: string;
  /** The EventBridge event pattern, tokens resolved. */
  pattern: Record<string, unknown>;
  /** ARNs of the functions it targets. */
  targets: string[];
}

export interface LocalPlan {
  buckets: Array<{ logicalId: string; name: string }>;
  tables: Array<{ logicalId: string; name: string; properties: Record<string, Json> }>;
  secrets: Array<{ logicalId: string; name: string; arn: string; initialValue: string }>;
  functions: LocalFunction[];
  stateMachines: Array<{ logicalId: string; name: string; arn: string; definition: Record<string, unknown> }>;
  notifications: LocalNotification[];
  rules: LocalRule[];
}

export function planFromTemplate(template: CloudFormationTemplate, entryMetadataKey: string): LocalPlan {
  const resources = template.Resources;
  const names = new Map<string, { ref: string; arn: string }>();
  const arn = (service: string, resource: string) =>
    `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${resource}`;

  for (const [id, resource] of Object.entries(resources)) {
    switch (resource.Type) {
      case 'AWS::S3::Bucket': {
        const name = `local-${id.toLowerCase()}`.slice(0, 63).replace(/[^a-z0-9-]/g, '');
        names.set(id, { ref: name, arn: `arn:aws:s3:::${name}` });
        break;
      }
      case 'AWS::DynamoDB::Table':
        names.set(id, { ref: id, arn: arn('dynamodb', `table/${id}`) });
        break;
      case 'AWS::SecretsManager::Secret': {
        const secretArn = arn('secretsmanager', `secret:${id}-local`);
        names.set(id, { ref: secretArn, arn: secretArn });
        break;
      }
      case 'AWS::Lambda::Function':
        names.set(id, { ref: id, arn: arn('lambda', `function:${id}`) });
        break;
      case 'AWS::StepFunctions::StateMachine': {
        const machineArn = arn('states', `stateMachine:${id}`);
        names.set(id, { ref: machineArn, arn: machineArn });
        break;
      }
    }
  }

  const resolve = (value: Json): Json =>
    resolveIntrinsics(value, (id, attribute) => {
      const pseudo = PSEUDO_PARAMETERS[id];
      if (pseudo !== undefined && attribute === undefined) return pseudo;
      const known = names.get(id);
      if (!known)
        throw new Error(
          `local mode cannot resolve ${attribute ? `Fn::GetAtt ${id}.${attribute}` : `Ref ${id}`}`,
        );
      if (attribute === undefined) return known.ref;
      if (attribute === 'Arn') return known.arn;
      if (attribute === 'Name') return known.ref;
      throw new Error(`local mode cannot resolve Fn::GetAtt ${id}.${attribute}`);
    });

  const plan: LocalPlan = {
    buckets: [],
    tables: [],
    secrets: [],
    functions: [],
    stateMachines: [],
    notifications: [],
    rules: [],
  };
  for (const [id, resource] of Object.entries(resources)) {
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::S3::Bucket':
        plan.buckets.push({ logicalId: id, name: names.get(id)!.ref });
        break;
      case 'AWS::DynamoDB::Table':
        plan.tables.push({ logicalId: id, name: id, properties: { ...props, TableName: id } });
        break;
      case 'AWS::SecretsManager::Secret':
        plan.secrets.push({
          logicalId: id,
          name: id,
          arn: names.get(id)!.arn,
          initialValue: initialSecretValue(props),
        });
        break;
      case 'AWS::Lambda::Function': {
        const entry = resource.Metadata?.[entryMetadataKey];
        if (typeof entry !== 'string') break; // CDK's own helper functions (custom resources) are not ours to run.
        const variables = ((props.Environment as Record<string, Json> | undefined)?.Variables ??
          {}) as Record<string, Json>;
        plan.functions.push({
          logicalId: id,
          arn: names.get(id)!.arn,
          entry,
          environment: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(resolve(v))])),
          timeoutSeconds: typeof props.Timeout === 'number' ? props.Timeout : 3,
        });
        break;
      }
      case 'AWS::StepFunctions::StateMachine': {
        const text = resolve(props.DefinitionString ?? null);
        if (typeof text !== 'string') throw new Error(`state machine ${id} has no DefinitionString`);
        plan.stateMachines.push({
          logicalId: id,
          name: id,
          arn: names.get(id)!.arn,
          definition: JSON.parse(text),
        });
        break;
      }
      case 'AWS::Events::Rule': {
        const targets = ((props.Targets ?? []) as Array<Record<string, Json>>).map((target) =>
          String(resolve(target.Arn ?? null)),
        );
        plan.rules.push({
          logicalId: id,
          pattern: resolve(props.EventPattern ?? {}) as Record<string, unknown>,
          targets,
        });
        break;
      }
      case 'Custom::S3BucketNotifications': {
        const bucket = String(resolve(props.BucketName ?? null));
        const configuration = (props.NotificationConfiguration ?? {}) as Record<string, Json>;
        for (const entry of (configuration.LambdaFunctionConfigurations ?? []) as Array<
          Record<string, Json>
        >) {
          const rules = ((
            (entry.Filter as Record<string, Json> | undefined)?.Key as Record<string, Json> | undefined
          )?.FilterRules ?? []) as Array<{ Name: string; Value: string }>;
          const rule = (name: string) => rules.find((r) => r.Name.toLowerCase() === name)?.Value;
          const prefix = rule('prefix');
          const suffix = rule('suffix');
          plan.notifications.push({
            bucket,
            functionArn: String(resolve(entry.LambdaFunctionArn ?? null)),
            events: (entry.Events ?? []) as string[],
            ...(prefix !== undefined ? { prefix } : {}),
            ...(suffix !== undefined ? { suffix } : {}),
          });
        }
        break;
      }
    }
  }
  return plan;
}

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'local',
};

/** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Sub (without a variable map) and Fn::Select. */
export function resolveIntrinsics(
  value: Json,
  lookup: (logicalId: string, attribute?: string) => string,
): Json {
  const recurse = (v: Json) => resolveIntrinsics(v, lookup);
  if (Array.isArray(value)) return value.map(recurse);
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const [key] = keys as [string];
    const arg = value[key]!;
    if (key === 'Ref') return lookup(String(arg));
    if (key === 'Fn::GetAtt') {
      const [id, attribute] = Array.isArray(arg) ? arg.map(String) : String(arg).split('.');
      return lookup(id!, attribute);
    }
    if (key === 'Fn::Join') {
      const [separator, parts] = arg as [string, Json[]];
      return (recurse(parts) as Json[]).map(String).join(separator);
    }
    if (key === 'Fn::Select') {
      const [index, list] = arg as [number, Json];
      return (recurse(list) as Json[])[Number(index)] ?? null;
    }
    if (key === 'Fn::Sub' && typeof arg === 'string') {
      return arg.replace(/\$\{([^}!][^}]*)\}/g, (_, ref: string) => {
        const [id, attribute] = ref.split('.');
        return lookup(id!, attribute);
      });
    }
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, recurse(v)]));
}

function initialSecretValue(props: Record<string, Json>): string {
  if (typeof props.SecretString === 'string') return props.SecretString;
  const generate = props.GenerateSecretString as Record<string, Json> | undefined;
  const random = randomBytes(16).toString('hex');
  if (
    generate &&
    typeof generate.SecretStringTemplate === 'string' &&
    typeof generate.GenerateStringKey === 'string'
  ) {
    return JSON.stringify({
      ...JSON.parse(generate.SecretStringTemplate),
      [generate.GenerateStringKey]: random,
    });
  }
  return random;
}

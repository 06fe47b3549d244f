import { createHash, randomBytes } from 'node:crypto';

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
  Outputs?: Record<string, { Value: Json; Description?: string }>;
}

/** An IAM policy document, intrinsics resolved. */
export interface PolicyDocument {
  Version?: string;
  Statement: Array<Record<string, unknown>>;
}
export interface NamedPolicy {
  name: string;
  document: PolicyDocument;
}

export interface LocalRole {
  logicalId: string;
  arn: string;
  /** Inline policies, AWS::IAM::Policy resources attached to it, and managed policies by ARN. */
  policies: NamedPolicy[];
  managedPolicyArns: string[];
}

/** Lambda's asynchronous invocation settings for a function (AWS::Lambda::EventInvokeConfig). */
export interface LocalInvokeConfig {
  maximumRetryAttempts: number;
  maximumEventAgeSeconds: number;
  onFailure?: string;
  onSuccess?: string;
}

export interface LocalFunction {
  logicalId: string;
  arn: string;
  /** Source entry relative to the project root, from the template metadata. */
  entry: string;
  environment: Record<string, string>;
  timeoutSeconds: number;
  memorySize: number;
  /** The execution role's ARN: the identity every AWS call of the function is made with. */
  roleArn: string;
  /** Asynchronous invocation: Lambda's defaults (2 retries, 6 h, no destination) unless configured. */
  invokeConfig: LocalInvokeConfig;
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
  /** The rule's name (its logical id locally): what `fireSchedule` and the rule's ARN use. */
  name: string;
  arn: string;
  /** The EventBridge event pattern, tokens resolved; absent on a rule that only runs on a schedule. */
  pattern?: Record<string, unknown>;
  /** `rate(…)` or `cron(…)`, for a scheduled rule. */
  schedule?: string;
  /** A DISABLED rule matches nothing and never fires. */
  enabled: boolean;
  /** The functions it targets, with the target's delivery retries and dead-letter queue. */
  targets: LocalRuleTarget[];
}

export interface LocalRuleTarget {
  arn: string;
  maximumRetryAttempts: number;
  deadLetterArn?: string;
  /** The target's constant Input (JSON text): sent instead of the event when set. */
  input?: string;
  /** The target's InputTransformer: variables from JSON paths of the event, and the template they fill. */
  inputTransformer?: { pathsMap: Record<string, string>; template: string };
}

/** An SNS topic (AWS::SNS::Topic); its Ref is its ARN. */
export interface LocalTopic {
  logicalId: string;
  name: string;
  arn: string;
}

/** A subscription to a topic (AWS::SNS::Subscription), as the template declares it. */
export interface LocalSubscription {
  topicArn: string;
  protocol: string;
  endpoint: string;
}

/** A CloudWatch alarm (AWS::CloudWatch::Alarm), its properties resolved. */
export interface LocalAlarm {
  logicalId: string;
  name: string;
  arn: string;
  properties: Record<string, unknown>;
}

/** A Lambda function URL (AWS::Lambda::Url). */
export interface LocalFunctionUrl {
  logicalId: string;
  functionArn: string;
  authType: 'NONE' | 'AWS_IAM';
  invokeMode: 'BUFFERED' | 'RESPONSE_STREAM';
  /** The URL's CORS settings as the template declares them (AllowOrigins, AllowMethods, …). */
  cors?: Record<string, unknown>;
  /**
   * Where it is served. In the plan, a placeholder in AWS's shape (`https://<url-id>.lambda-url.<region>.on.aws/`);
   * the local cloud replaces it (here and in the outputs) with `http://127.0.0.1:<port>/` once it listens.
   */
  url: string;
  /** The URL id: the host's first label on AWS, `requestContext.apiId` in events. */
  urlId: string;
}

/** An SSM parameter (AWS::SSM::Parameter), as CloudFormation creates it. */
export interface LocalParameter {
  logicalId: string;
  name: string;
  type: 'String' | 'StringList' | 'SecureString';
  value: string;
  description?: string;
  tier?: string;
  dataType?: string;
}

/** An EventBridge Scheduler schedule group (AWS::Scheduler::ScheduleGroup). */
export interface LocalScheduleGroup {
  logicalId: string;
  name: string;
  arn: string;
}

/** An EventBridge Scheduler schedule (AWS::Scheduler::Schedule): its properties in the API's shape. */
export interface LocalSchedule {
  logicalId: string;
  name: string;
  group: string;
  properties: Record<string, unknown>;
}

export interface LocalPlan {
  /** `versioned`: the bucket's VersioningConfiguration is Enabled (a delete then puts a delete marker). */
  buckets: Array<{ logicalId: string; name: string; versioned: boolean }>;
  tables: Array<{ logicalId: string; name: string; properties: Record<string, Json> }>;
  secrets: Array<{ logicalId: string; name: string; arn: string; initialValue: string }>;
  functions: LocalFunction[];
  stateMachines: Array<{
    logicalId: string;
    name: string;
    arn: string;
    roleArn: string;
    definition: Record<string, unknown>;
  }>;
  notifications: LocalNotification[];
  rules: LocalRule[];
  topics: LocalTopic[];
  subscriptions: LocalSubscription[];
  alarms: LocalAlarm[];
  functionUrls: LocalFunctionUrl[];
  queues: Array<{ logicalId: string; name: string; arn: string; url: string }>;
  parameters: LocalParameter[];
  scheduleGroups: LocalScheduleGroup[];
  schedules: LocalSchedule[];
  roles: LocalRole[];
  /**
   * Resource-based policies by the ARN of the resource they guard: bucket policies (by bucket ARN),
   * queue policies (by queue ARN), topic policies (by topic ARN), and Lambda permissions as the function's policy (by function ARN).
   */
  resourcePolicies: Map<string, PolicyDocument>;
  /** Customer managed policies the stack creates, by ARN. */
  managedPolicies: Map<string, NamedPolicy>;
  /** The stack's outputs, resolved. */
  outputs: Record<string, { value: string; description?: string }>;
}

export interface PlanOptions {
  /** Template metadata key naming a function's source entry. */
  entryMetadataKey: string;
  /** Where the local SQS serves queues: a queue's URL (its Ref) is `<sqsEndpoint>/<account>/<name>`. */
  sqsEndpoint?: string;
}

/** Lambda's asynchronous invocation defaults: two retries, events kept six hours, no destination. */
const DEFAULT_INVOKE_CONFIG: LocalInvokeConfig = { maximumRetryAttempts: 2, maximumEventAgeSeconds: 21_600 };

export function planFromTemplate(template: CloudFormationTemplate, options: PlanOptions): LocalPlan {
  const { entryMetadataKey } = options;
  const sqsEndpoint = options.sqsEndpoint ?? `https://sqs.${LOCAL_REGION}.amazonaws.com`;
  const resources = template.Resources;
  const names = new Map<string, { ref: string; arn: string; name?: string }>();
  const functionUrls = new Map<string, { urlId: string; url: string }>();
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
        names.set(id, { ref: machineArn, arn: machineArn, name: id });
        break;
      }
      case 'AWS::IAM::Role':
        names.set(id, { ref: id, arn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/${id}` });
        break;
      case 'AWS::IAM::ManagedPolicy':
        names.set(id, {
          ref: `arn:aws:iam::${LOCAL_ACCOUNT}:policy/${id}`,
          arn: `arn:aws:iam::${LOCAL_ACCOUNT}:policy/${id}`,
        });
        break;
      case 'AWS::SQS::Queue':
        names.set(id, { ref: `${sqsEndpoint}/${LOCAL_ACCOUNT}/${id}`, arn: arn('sqs', id) });
        break;
      case 'AWS::Events::Rule':
        names.set(id, { ref: id, arn: arn('events', `rule/${id}`) });
        break;
      // A topic's Ref is its ARN, TopicName its name; an alarm's Ref is its name (CloudFormation return
      // values). A name the template leaves out is generated; locally `local-<logical id>`.
      case 'AWS::SNS::Topic': {
        const topicName = resource.Properties?.TopicName;
        const name = typeof topicName === 'string' ? topicName : `local-${id}`;
        names.set(id, { ref: arn('sns', name), arn: arn('sns', name), name });
        break;
      }
      case 'AWS::CloudWatch::Alarm': {
        const alarmName = resource.Properties?.AlarmName;
        const name = typeof alarmName === 'string' ? alarmName : `local-${id}`;
        names.set(id, { ref: name, arn: arn('cloudwatch', `alarm:${name}`), name });
        break;
      }
      // Local mode makes no CloudWatch Logs or KMS calls, but policies name these resources. A log group's
      // Ref is its name and its Arn ends in ":*" ("arn:aws:logs:…:log-group:<name>:*", AWS::Logs::LogGroup
      // return values, CloudFormation user guide, read 2026-11-29); a key's Ref is its id.
      case 'AWS::Logs::LogGroup': {
        const logGroupName = resource.Properties?.LogGroupName;
        const name = typeof logGroupName === 'string' ? logGroupName : `/local/${id}`;
        names.set(id, { ref: name, arn: arn('logs', `log-group:${name}:*`) });
        break;
      }
      case 'AWS::KMS::Key':
        names.set(id, { ref: id, arn: arn('kms', `key/${id}`) });
        break;
      // CloudFormation return values (AWS::SSM::Parameter, AWS::Scheduler::ScheduleGroup,
      // AWS::Scheduler::Schedule, CloudFormation user guide, read 2026-11-29): a parameter's Ref is its name
      // (Fn::GetAtt Type and Value); a schedule group's and a schedule's Ref is the name and Arn their ARN.
      // A name the template leaves out is generated from the stack, the logical id and a suffix.
      case 'AWS::SSM::Parameter': {
        const name = resource.Properties?.Name;
        if (name !== undefined && typeof name !== 'string')
          throw new Error(`parameter ${id}: local mode reads only a literal Name`);
        names.set(id, { ref: name ?? `CFN-${id}-local`, arn: '' });
        break;
      }
      // A dashboard's Ref is its name (the DashboardUrl output links to it).
      case 'AWS::CloudWatch::Dashboard': {
        const name = resource.Properties?.DashboardName;
        names.set(id, { ref: typeof name === 'string' ? name : `local-${id}`, arn: '' });
        break;
      }
      case 'AWS::Scheduler::ScheduleGroup': {
        const name =
          typeof resource.Properties?.Name === 'string'
            ? resource.Properties.Name
            : `local-${id}`.slice(0, 64);
        names.set(id, { ref: name, arn: arn('scheduler', `schedule-group/${name}`) });
        break;
      }
      case 'AWS::Scheduler::Schedule': {
        const name =
          typeof resource.Properties?.Name === 'string'
            ? resource.Properties.Name
            : `local-${id}`.slice(0, 64);
        const group = resource.Properties?.GroupName;
        // A group named by Ref is resolved with the rest of the template below; the ARN is fixed then.
        names.set(id, {
          ref: name,
          arn:
            typeof group === 'string' || group === undefined
              ? arn('scheduler', `schedule/${group ?? 'default'}/${name}`)
              : '',
        });
        break;
      }
      case 'AWS::Lambda::Url': {
        const urlId = functionUrlId(id);
        functionUrls.set(id, {
          urlId,
          url: `https://${urlId}.lambda-url.${LOCAL_REGION}.on.aws/`,
        });
        break;
      }
    }
  }

  // A function URL's TargetFunctionArn may be the function's name (Ref) or its ARN.
  const urlTargetArn = (target: string) =>
    target.startsWith('arn:') ? target : arn('lambda', `function:${target}`);
  const resolve = (value: Json): Json =>
    resolveIntrinsics(value, (id, attribute) => {
      const pseudo = PSEUDO_PARAMETERS[id];
      if (pseudo !== undefined && attribute === undefined) return pseudo;
      // AWS::Lambda::Url's attributes are FunctionUrl and FunctionArn (CDK's IFunctionUrl, "Attribute:
      // FunctionUrl", "Attribute: FunctionArn",
      // https://docs.aws.amazon.com/cdk/api/v2/dotnet/api/Amazon.CDK.AWS.Lambda.IFunctionUrl.html, read 2026-11-29).
      const functionUrl = functionUrls.get(id);
      if (functionUrl && attribute === 'FunctionUrl') return functionUrl.url;
      if (functionUrl && attribute === 'FunctionArn')
        return urlTargetArn(String(resolve(resources[id]!.Properties?.TargetFunctionArn ?? null)));
      const known = names.get(id);
      if (!known)
        throw new Error(
          `local mode cannot resolve ${attribute ? `Fn::GetAtt ${id}.${attribute}` : `Ref ${id}`}`,
        );
      if (attribute === undefined) return known.ref;
      if (attribute === 'Arn' && resources[id]?.Type === 'AWS::Scheduler::Schedule' && !known.arn)
        return arn(
          'scheduler',
          `schedule/${String(resolve(resources[id]!.Properties?.GroupName ?? null))}/${known.ref}`,
        );
      if (attribute === 'Arn') return known.arn;
      if (attribute === 'Name') return known.name ?? known.ref;
      if (attribute === 'TopicName' && resources[id]?.Type === 'AWS::SNS::Topic') return known.name!;
      if (attribute === 'TopicArn' && resources[id]?.Type === 'AWS::SNS::Topic') return known.arn;
      if (attribute === 'QueueUrl') return known.ref;
      if (attribute === 'QueueName') return id;
      if (resources[id]?.Type === 'AWS::SSM::Parameter' && (attribute === 'Type' || attribute === 'Value'))
        return String(resolve(resources[id]!.Properties?.[attribute] ?? null));
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
    topics: [],
    subscriptions: [],
    alarms: [],
    functionUrls: [],
    queues: [],
    parameters: [],
    scheduleGroups: [],
    schedules: [],
    roles: [],
    resourcePolicies: new Map(),
    managedPolicies: new Map(),
    outputs: {},
  };
  const rolePolicies = new Map<string, NamedPolicy[]>();
  const invokeConfigs = new Map<string, LocalInvokeConfig>();
  const addResourcePolicy = (resourceArn: string, statements: Array<Record<string, unknown>>) => {
    const existing = plan.resourcePolicies.get(resourceArn);
    if (existing) existing.Statement.push(...statements);
    else plan.resourcePolicies.set(resourceArn, { Version: '2012-10-17', Statement: [...statements] });
  };
  const document = (value: Json | undefined): PolicyDocument => {
    const resolved = resolve(value ?? null) as unknown as PolicyDocument;
    const statements = Array.isArray(resolved.Statement) ? resolved.Statement : [resolved.Statement];
    return { ...resolved, Statement: statements };
  };
  for (const [id, resource] of Object.entries(resources)) {
    const props = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::S3::Bucket':
        plan.buckets.push({
          logicalId: id,
          name: names.get(id)!.ref,
          versioned:
            (props.VersioningConfiguration as Record<string, Json> | undefined)?.Status === 'Enabled',
        });
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
          // Lambda's defaults: 3 seconds, 128 MB.
          timeoutSeconds: typeof props.Timeout === 'number' ? props.Timeout : 3,
          memorySize: typeof props.MemorySize === 'number' ? props.MemorySize : 128,
          roleArn: String(resolve(props.Role ?? null)),
          invokeConfig: DEFAULT_INVOKE_CONFIG,
        });
        break;
      }
      case 'AWS::Lambda::EventInvokeConfig': {
        const destinations = (props.DestinationConfig ?? {}) as Record<string, { Destination?: Json }>;
        const onFailure = destinations.OnFailure?.Destination;
        const onSuccess = destinations.OnSuccess?.Destination;
        invokeConfigs.set(String(resolve(props.FunctionName ?? null)), {
          maximumRetryAttempts:
            typeof props.MaximumRetryAttempts === 'number'
              ? props.MaximumRetryAttempts
              : DEFAULT_INVOKE_CONFIG.maximumRetryAttempts,
          maximumEventAgeSeconds:
            typeof props.MaximumEventAgeInSeconds === 'number'
              ? props.MaximumEventAgeInSeconds
              : DEFAULT_INVOKE_CONFIG.maximumEventAgeSeconds,
          ...(onFailure ? { onFailure: String(resolve(onFailure)) } : {}),
          ...(onSuccess ? { onSuccess: String(resolve(onSuccess)) } : {}),
        });
        break;
      }
      case 'AWS::Lambda::Permission': {
        // A function's resource-based policy, as Lambda's GetPolicy shows it.
        const conditions: Record<string, Record<string, string>> = {};
        const stringEquals: Record<string, string> = {};
        if (props.SourceArn) conditions.ArnLike = { 'aws:SourceArn': String(resolve(props.SourceArn)) };
        if (props.SourceAccount) stringEquals['aws:SourceAccount'] = String(resolve(props.SourceAccount));
        // Function URL permissions: Lambda turns FunctionUrlAuthType into a lambda:FunctionUrlAuthType
        // condition, and InvokedViaFunctionUrl into lambda:InvokedViaFunctionUrl, so the public
        // lambda:InvokeFunction grant holds only for calls through the URL (Lambda developer guide,
        // https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html, read 2026-11-29; the statements
        // the console adds are quoted in https://github.com/TerraConstructs/base/issues/98, read 2026-11-29).
        if (props.FunctionUrlAuthType)
          stringEquals['lambda:FunctionUrlAuthType'] = String(resolve(props.FunctionUrlAuthType));
        if (Object.keys(stringEquals).length) conditions.StringEquals = stringEquals;
        if (props.InvokedViaFunctionUrl !== undefined && props.InvokedViaFunctionUrl !== null)
          conditions.Bool = { 'lambda:InvokedViaFunctionUrl': String(resolve(props.InvokedViaFunctionUrl)) };
        const principal = String(resolve(props.Principal ?? null));
        const functionArn = String(resolve(props.FunctionName ?? null));
        addResourcePolicy(functionArn, [
          {
            Sid: id,
            Effect: 'Allow',
            Principal: principal.endsWith('.amazonaws.com') ? { Service: principal } : { AWS: principal },
            Action: String(resolve(props.Action ?? null)),
            Resource: functionArn,
            ...(Object.keys(conditions).length ? { Condition: conditions } : {}),
          },
        ]);
        break;
      }
      case 'AWS::Lambda::Url': {
        const authType = String(resolve(props.AuthType ?? null));
        if (authType !== 'NONE' && authType !== 'AWS_IAM')
          throw new Error(`function URL ${id} has AuthType ${authType}; Lambda accepts NONE or AWS_IAM`);
        const invokeMode = props.InvokeMode === undefined ? 'BUFFERED' : String(resolve(props.InvokeMode));
        if (invokeMode !== 'BUFFERED' && invokeMode !== 'RESPONSE_STREAM')
          throw new Error(
            `function URL ${id} has InvokeMode ${invokeMode}; Lambda accepts BUFFERED or RESPONSE_STREAM`,
          );
        if (props.Qualifier !== undefined)
          throw new Error(`function URL ${id} names a Qualifier; local mode serves $LATEST only`);
        const known = functionUrls.get(id)!;
        plan.functionUrls.push({
          logicalId: id,
          functionArn: urlTargetArn(String(resolve(props.TargetFunctionArn ?? null))),
          authType,
          invokeMode,
          ...(props.Cors ? { cors: resolve(props.Cors) as Record<string, unknown> } : {}),
          url: known.url,
          urlId: known.urlId,
        });
        break;
      }
      case 'AWS::IAM::Role': {
        const inline = ((props.Policies ?? []) as Array<Record<string, Json>>).map((policy) => ({
          name: String(policy.PolicyName),
          document: document(policy.PolicyDocument),
        }));
        rolePolicies.set(id, [...(rolePolicies.get(id) ?? []), ...inline]);
        plan.roles.push({
          logicalId: id,
          arn: names.get(id)!.arn,
          policies: [],
          managedPolicyArns: ((props.ManagedPolicyArns ?? []) as Json[]).map((a) => String(resolve(a))),
        });
        break;
      }
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy': {
        const policy = {
          name: String(props.PolicyName ?? props.ManagedPolicyName ?? id),
          document: document(props.PolicyDocument),
        };
        if (resource.Type === 'AWS::IAM::ManagedPolicy') plan.managedPolicies.set(names.get(id)!.arn, policy);
        for (const role of (props.Roles ?? []) as Json[]) {
          const roleId = String(resolve(role));
          rolePolicies.set(roleId, [...(rolePolicies.get(roleId) ?? []), policy]);
        }
        break;
      }
      case 'AWS::S3::BucketPolicy': {
        const bucketArn = `arn:aws:s3:::${String(resolve(props.Bucket ?? null))}`;
        addResourcePolicy(bucketArn, document(props.PolicyDocument).Statement);
        break;
      }
      case 'AWS::SNS::Topic':
        plan.topics.push({ logicalId: id, name: names.get(id)!.name!, arn: names.get(id)!.arn });
        break;
      case 'AWS::SNS::TopicPolicy':
        for (const topic of (props.Topics ?? []) as Json[])
          addResourcePolicy(String(resolve(topic)), document(props.PolicyDocument).Statement);
        break;
      case 'AWS::SNS::Subscription':
        plan.subscriptions.push({
          topicArn: String(resolve(props.TopicArn ?? null)),
          protocol: String(resolve(props.Protocol ?? null)),
          endpoint: String(resolve(props.Endpoint ?? null)),
        });
        break;
      case 'AWS::CloudWatch::Alarm':
        plan.alarms.push({
          logicalId: id,
          name: names.get(id)!.name!,
          arn: names.get(id)!.arn,
          properties: resolve(props) as Record<string, unknown>,
        });
        break;
      case 'AWS::SQS::QueuePolicy': {
        for (const queue of (props.Queues ?? []) as Json[]) {
          const url = String(resolve(queue));
          const name = url.slice(url.lastIndexOf('/') + 1);
          addResourcePolicy(arn('sqs', name), document(props.PolicyDocument).Statement);
        }
        break;
      }
      case 'AWS::SSM::Parameter': {
        const type = String(resolve(props.Type ?? null));
        if (type !== 'String' && type !== 'StringList')
          // CloudFormation creates String and StringList parameters (SecureString is not a Type it accepts).
          throw new Error(`parameter ${id} has Type ${type}; CloudFormation accepts String or StringList`);
        plan.parameters.push({
          logicalId: id,
          name: names.get(id)!.ref,
          type,
          value: String(resolve(props.Value ?? null)),
          ...(props.Description !== undefined ? { description: String(resolve(props.Description)) } : {}),
          ...(props.Tier !== undefined ? { tier: String(resolve(props.Tier)) } : {}),
          ...(props.DataType !== undefined ? { dataType: String(resolve(props.DataType)) } : {}),
        });
        break;
      }
      case 'AWS::Scheduler::ScheduleGroup':
        plan.scheduleGroups.push({ logicalId: id, name: names.get(id)!.ref, arn: names.get(id)!.arn });
        break;
      case 'AWS::Scheduler::Schedule': {
        const properties = resolve(props) as Record<string, unknown>;
        plan.schedules.push({
          logicalId: id,
          name: names.get(id)!.ref,
          group: typeof properties.GroupName === 'string' ? properties.GroupName : 'default',
          properties,
        });
        break;
      }
      case 'AWS::SQS::Queue':
        plan.queues.push({ logicalId: id, name: id, arn: names.get(id)!.arn, url: names.get(id)!.ref });
        break;
      case 'AWS::StepFunctions::StateMachine': {
        const text = resolve(props.DefinitionString ?? null);
        if (typeof text !== 'string') throw new Error(`state machine ${id} has no DefinitionString`);
        plan.stateMachines.push({
          logicalId: id,
          name: id,
          arn: names.get(id)!.arn,
          roleArn: String(resolve(props.RoleArn ?? null)),
          definition: JSON.parse(text),
        });
        break;
      }
      case 'AWS::Events::Rule': {
        const targets = ((props.Targets ?? []) as Array<Record<string, Json>>).map((target) => {
          const retry = target.RetryPolicy as Record<string, Json> | undefined;
          const deadLetter = (target.DeadLetterConfig as Record<string, Json> | undefined)?.Arn;
          if (target.InputPath !== undefined)
            throw new Error(`rule ${id}: local mode does not serve a target's InputPath`);
          const transformer = target.InputTransformer as Record<string, Json> | undefined;
          return {
            arn: String(resolve(target.Arn ?? null)),
            // EventBridge's default: 185 retries over 24 hours.
            maximumRetryAttempts:
              typeof retry?.MaximumRetryAttempts === 'number' ? retry.MaximumRetryAttempts : 185,
            ...(deadLetter ? { deadLetterArn: String(resolve(deadLetter)) } : {}),
            ...(target.Input !== undefined ? { input: String(resolve(target.Input)) } : {}),
            ...(transformer
              ? {
                  inputTransformer: {
                    pathsMap: Object.fromEntries(
                      Object.entries(
                        (resolve(transformer.InputPathsMap ?? {}) ?? {}) as Record<string, Json>,
                      ).map(([k, v]) => [k, String(v)]),
                    ),
                    template: String(resolve(transformer.InputTemplate ?? null)),
                  },
                }
              : {}),
          };
        });
        const schedule =
          props.ScheduleExpression === undefined ? undefined : String(resolve(props.ScheduleExpression));
        plan.rules.push({
          logicalId: id,
          name: id,
          arn: names.get(id)!.arn,
          // A rule with only a schedule has no pattern: it matches no published event.
          ...(props.EventPattern !== undefined
            ? { pattern: resolve(props.EventPattern) as Record<string, unknown> }
            : {}),
          ...(schedule !== undefined ? { schedule } : {}),
          // EventBridge's default state is ENABLED.
          enabled: props.State === undefined || resolve(props.State) !== 'DISABLED',
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
  for (const role of plan.roles) role.policies = rolePolicies.get(role.logicalId) ?? [];
  // EventInvokeConfig names its function by Ref (the name) or by ARN.
  for (const fn of plan.functions)
    fn.invokeConfig = invokeConfigs.get(fn.arn) ?? invokeConfigs.get(fn.logicalId) ?? DEFAULT_INVOKE_CONFIG;
  for (const [key, output] of Object.entries(template.Outputs ?? {}))
    plan.outputs[key] = {
      value: String(resolve(output.Value)),
      ...(output.Description ? { description: output.Description } : {}),
    };
  return plan;
}

/** A function URL's id: 32 lowercase letters and digits as on AWS, stable for a logical id. */
function functionUrlId(logicalId: string): string {
  return createHash('sha256')
    .update(`function-url:${logicalId}`)
    .digest('base64url')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .padEnd(32, '0')
    .slice(0, 32);
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

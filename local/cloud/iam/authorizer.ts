import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { LOCAL_ACCOUNT, type LocalPlan, type NamedPolicy, type PolicyDocument } from '../../template.js';
import { AWS_MANAGED_POLICIES } from './aws-managed-policies.js';

/**
 * Local IAM: every AWS call made in local mode is evaluated here, with a maintained IAM policy
 * evaluator (@cloud-copilot/iam-simulate), against the caller's identity policies from the synthesized
 * template and the resource's own policy (bucket policy, queue policy, Lambda permissions). A call AWS
 * would refuse is refused locally, with AWS's message.
 *
 * What local mode cannot see is supplied explicitly, as AWS would see it from an SDK on Lambda:
 * `aws:SecureTransport` is true and `s3:TlsVersion` is 1.2 (local endpoints are plain http on
 * 127.0.0.1; on AWS the SDK always uses TLS 1.2 or later), so the stack's TLS-only bucket and queue
 * policies are evaluated but cannot fail here. README "Local mode differs from AWS" lists this.
 */
export interface Principal {
  /** The ARN AWS names in its messages: an assumed-role session, a user, or a service principal. */
  arn: string;
  /** Identity-based policies; none for a service principal. */
  policies: NamedPolicy[];
  /** A service principal (`s3.amazonaws.com`) acting for a resource, e.g. S3 invoking a function. */
  service?: { sourceArn: string };
}

export interface AccessRequest {
  action: string;
  resource: string;
  context?: Record<string, string | string[]>;
}

export interface Decision {
  principal: string;
  action: string;
  resource: string;
  allowed: boolean;
  /** AWS's wording of a denial: "User: … is not authorized to perform: …". */
  message: string;
}

export class AccessDeniedError extends Error {
  constructor(readonly decision: Decision) {
    super(decision.message);
    this.name = 'AccessDenied';
  }
}

export class Authorizer {
  /** Every decision, in order; tests read which calls each identity made and which were refused. */
  readonly decisions: Decision[] = [];

  constructor(private readonly resourcePolicies: ReadonlyMap<string, PolicyDocument>) {}

  async check(principal: Principal, request: AccessRequest): Promise<Decision> {
    const resourcePolicy = this.resourcePolicies.get(resourcePolicyKey(request.resource));
    const simulation: Simulation = {
      identityPolicies: principal.policies.map((p) => ({ name: p.name, policy: p.document })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
      request: {
        action: request.action,
        principal: principal.arn,
        resource: { accountId: LOCAL_ACCOUNT, resource: request.resource },
        contextVariables: {
          'aws:SecureTransport': 'true',
          ...(request.action.startsWith('s3:') ? { 's3:TlsVersion': '1.2' } : {}),
          ...(principal.service
            ? { 'aws:SourceArn': principal.service.sourceArn, 'aws:SourceAccount': LOCAL_ACCOUNT }
            : { 'aws:PrincipalArn': principal.arn, 'aws:PrincipalAccount': LOCAL_ACCOUNT }),
          ...request.context,
        },
      },
    } as Simulation;
    const result = await runSimulation(simulation, {});
    let decision: Decision;
    if (result.resultType === 'error') {
      // A request the evaluator cannot read is a local-mode bug; refusing it keeps it from passing unseen.
      decision = {
        principal: principal.arn,
        action: request.action,
        resource: request.resource,
        allowed: false,
        message: `local IAM could not evaluate ${request.action} on ${request.resource}: ${JSON.stringify(result.errors)}`,
      };
    } else {
      const allowed = result.overallResult === 'Allowed';
      decision = {
        principal: principal.arn,
        action: request.action,
        resource: request.resource,
        allowed,
        message: allowed
          ? 'allowed'
          : deniedMessage(principal.arn, request, result.overallResult === 'ExplicitlyDenied'),
      };
    }
    this.decisions.push(decision);
    return decision;
  }

  /** Throws AccessDeniedError when the request is refused. */
  async require(principal: Principal, request: AccessRequest): Promise<void> {
    const decision = await this.check(principal, request);
    if (!decision.allowed) throw new AccessDeniedError(decision);
  }
}

/** AWS's wording (IAM "access denied error messages", read 2026-11-29). */
function deniedMessage(principal: string, request: AccessRequest, explicit: boolean): string {
  const because = explicit
    ? 'with an explicit deny in a policy'
    : `because no identity-based policy allows the ${request.action} action`;
  return `User: ${principal} is not authorized to perform: ${request.action} on resource: ${request.resource} ${because}`;
}

/** The resource whose policy guards a request: the bucket of an object, the function of a version. */
function resourcePolicyKey(resource: string): string {
  if (resource.startsWith('arn:aws:s3:::')) return resource.split('/')[0]!;
  if (resource.startsWith('arn:aws:lambda:')) return resource.split(':').slice(0, 7).join(':');
  return resource;
}

/** The identity policies of a role from the template, managed policies resolved. */
export function rolePolicies(plan: LocalPlan, roleArn: string): NamedPolicy[] {
  const role = plan.roles.find((r) => r.arn === roleArn);
  if (!role) throw new Error(`local IAM: no role ${roleArn} in the template`);
  const managed = role.managedPolicyArns.map((arn) => {
    const policy = plan.managedPolicies.get(arn) ?? AWS_MANAGED_POLICIES[arn];
    if (!policy)
      throw new Error(
        `local IAM does not know the managed policy ${arn} attached to ${role.logicalId}; add its document to local/cloud/iam/aws-managed-policies.ts`,
      );
    return policy;
  });
  return [...role.policies, ...managed];
}

/** The session ARN a function's calls carry: `arn:aws:sts::<account>:assumed-role/<role>/<function>`. */
export function functionPrincipal(plan: LocalPlan, fn: { logicalId: string; roleArn: string }): Principal {
  const roleName = fn.roleArn.slice(fn.roleArn.lastIndexOf('/') + 1);
  return {
    arn: `arn:aws:sts::${LOCAL_ACCOUNT}:assumed-role/${roleName}/${fn.logicalId}`,
    policies: rolePolicies(plan, fn.roleArn),
  };
}

/** Who runs the local cloud and its tests: an administrator, subject still to resource policies. */
export const LOCAL_ADMIN: Principal = {
  arn: `arn:aws:iam::${LOCAL_ACCOUNT}:user/local-admin`,
  policies: [AWS_MANAGED_POLICIES['arn:aws:iam::aws:policy/AdministratorAccess']!],
};

export function servicePrincipal(service: string, sourceArn: string): Principal {
  return { arn: service, policies: [], service: { sourceArn } };
}

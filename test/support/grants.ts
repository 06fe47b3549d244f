import type { CloudFormationTemplate } from '../../local/template.js';

/**
 * Takes one action away from a role in a synthesized template, as a deployment whose construct forgot
 * that grant would have it: every statement of the role's policies loses the action (a statement left
 * with no action is removed; a policy other roles share keeps the action for them). The role is a function's (by its source entry) or the state machine's.
 */
export type RoleOwner = { entry: string } | 'state-machine' | 'operators';

export function withoutAction(
  owner: RoleOwner,
  action: string,
): (template: CloudFormationTemplate) => CloudFormationTemplate {
  return (original) => {
    const template = structuredClone(original);
    // The operators' managed policy is attached to no role: it is found by its construct id.
    const roleId = owner === 'operators' ? undefined : roleOf(template, owner);
    let removed = 0;
    for (const [id, resource] of Object.entries(template.Resources)) {
      const props = resource.Properties as {
        Roles?: Array<{ Ref: string }>;
        PolicyDocument: { Statement: Array<{ Action: string | string[] }> };
      };
      const owned =
        owner === 'operators'
          ? resource.Type === 'AWS::IAM::ManagedPolicy' && id.includes('Operators')
          : resource.Type === 'AWS::IAM::Policy' && (props.Roles ?? []).some((role) => role.Ref === roleId);
      if (!owned) continue;
      const statements = props.PolicyDocument.Statement.flatMap((statement) => {
        const actions = [statement.Action].flat();
        const kept = actions.filter((a) => a !== action);
        removed += actions.length - kept.length;
        return kept.length ? [{ ...statement, Action: kept }] : [];
      });
      const roles = props.Roles ?? [];
      if (owner === 'operators' || roles.length <= 1) {
        props.PolicyDocument.Statement = statements;
        continue;
      }
      // A policy several roles share: only this role loses the action. It leaves the shared policy and
      // gets a copy of its own without the action.
      props.Roles = roles.filter((role) => role.Ref !== roleId);
      template.Resources[`${id}Without${roleId}`] = {
        ...resource,
        Properties: {
          ...props,
          PolicyName: `${id}Without${roleId}`,
          Roles: [{ Ref: roleId! }],
          PolicyDocument: { ...props.PolicyDocument, Statement: statements },
        },
      };
    }
    if (removed === 0) throw new Error(`${JSON.stringify(owner)} has no grant of ${action} to take away`);
    return template;
  };
}

function roleOf(template: CloudFormationTemplate, owner: Exclude<RoleOwner, 'operators'>): string {
  for (const resource of Object.values(template.Resources)) {
    const props = resource.Properties as Record<string, { 'Fn::GetAtt'?: [string, string] }> | undefined;
    if (owner === 'state-machine' && resource.Type === 'AWS::StepFunctions::StateMachine')
      return props!.RoleArn!['Fn::GetAtt']![0];
    if (
      owner !== 'state-machine' &&
      resource.Type === 'AWS::Lambda::Function' &&
      resource.Metadata?.['tunedrop:entry'] === owner.entry
    )
      return props!.Role!['Fn::GetAtt']![0];
  }
  throw new Error(`no role for ${JSON.stringify(owner)} in the template`);
}

/** Removes every resource of a type whose logical id matches, e.g. a Lambda permission. */
export function withoutResources(
  type: string,
  idPattern: RegExp,
): (template: CloudFormationTemplate) => CloudFormationTemplate {
  return (original) => {
    const template = structuredClone(original);
    const ids = Object.entries(template.Resources)
      .filter(([id, r]) => r.Type === type && idPattern.test(id))
      .map(([id]) => id);
    if (ids.length === 0) throw new Error(`no ${type} matching ${idPattern} in the template`);
    for (const id of ids) delete template.Resources[id];
    return template;
  };
}

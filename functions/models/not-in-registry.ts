/** The operator functions' answer for a model id the registry does not know (models delete|promote). */
export function notInRegistry(model: string): { outcome: 'not_found'; message: string } {
  return {
    outcome: 'not_found',
    message: `${model} is not a model tunedrop trained in this stack (tunedrop models list shows them)`,
  };
}

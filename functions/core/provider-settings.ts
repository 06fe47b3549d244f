import type { HyperparameterRange, ModelInfo } from './catalog.js';
import { PROVIDER_TITLES } from './catalog.js';
import type { RunConfig } from './config.js';
import { issue } from './issue-list.js';
import type { DatasetIssue } from './dataset.js';

/**
 * The run settings a provider checks against the model when the job is created: Bedrock refuses a
 * hyperparameter outside the model's range (ValidationException) after the data is uploaded. Checked
 * here, at validation, so the refusal comes before any spend, with the setting's name and range.
 */
export function providerSettingIssues(config: RunConfig, model: ModelInfo): DatasetIssue[] {
  const ranges = model.hyperparameters;
  if (!ranges) return [];
  const issues: DatasetIssue[] = [];
  const check = (
    setting: string,
    value: number | 'auto' | undefined,
    range: HyperparameterRange | undefined,
  ) => {
    if (value === undefined || value === 'auto') return;
    if (!range) {
      issues.push(
        issue(
          'setting_out_of_range',
          `${setting} is set, but ${PROVIDER_TITLES[model.provider]} takes no such setting for ${model.id}`,
          `Remove ${setting} from tunedrop.json (source: ${ranges.source.url}).`,
        ),
      );
      return;
    }
    if (value >= range.min && value <= range.max) return;
    issues.push(
      issue(
        'setting_out_of_range',
        `${setting} = ${value} is outside what ${PROVIDER_TITLES[model.provider]} accepts for ${model.id}: ${range.min} to ${range.max}`,
        `Set ${setting} between ${range.min} and ${range.max} in tunedrop.json, or leave it out for ${range.default} (source: ${ranges.source.url}, read ${ranges.source.read}).`,
      ),
    );
  };
  check('hyperparameters.nEpochs', config.hyperparameters.nEpochs, ranges.epochs);
  check('bedrock.learningRate', config.bedrock?.learningRate, ranges.learningRate);
  check(
    'bedrock.learningRateWarmupSteps',
    config.bedrock?.learningRateWarmupSteps,
    ranges.learningRateWarmupSteps,
  );
  return issues;
}

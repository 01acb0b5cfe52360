import { isRecord } from '../../contracts/json';
import { compileFilterCriteria, type FilterCriteria } from '../emulators/event-filter';
import {
  resolveMappingSettings,
  type StreamEventSourceMappingSettings,
} from '../emulators/stream-mapping-settings';
import type { Resolve } from './intrinsics';
import type { LocalFunction, LocalStreamMapping, LocalTable } from './local-model';
import { TemplateModelError, type Resource, type StackTemplate } from './template';

/**
 * The AWS::Lambda::EventSourceMapping resources of the templates, read into the local model: which function,
 * which local table's stream (the EventSourceArn, resolved across stacks like any reference, must be the
 * StreamArn of one of the app's tables), the delivery settings and the on-failure destination. Settings and
 * filter patterns are checked here as CreateEventSourceMapping checks them, so that a mapping AWS would refuse
 * stops the local stack at start, with the mapping's name.
 */

const EVENT_SOURCE_MAPPING = 'AWS::Lambda::EventSourceMapping';

/**
 * Properties that change what a stream mapping delivers and that the local one does not emulate: running
 * without them would deliver something else than AWS does, so a template that sets one is refused.
 */
const NOT_EMULATED = ['TumblingWindowInSeconds', 'ProvisionedPollerConfig'] as const;

export interface IndexedResource {
  stack: StackTemplate;
  logicalId: string;
  resource: Resource;
}

export function modelStreamMappings(
  resources: Iterable<IndexedResource>,
  functions: ReadonlyMap<string, LocalFunction>,
  tables: readonly LocalTable[],
  resolverOf: (stack: StackTemplate) => Resolve,
): LocalStreamMapping[] {
  const mappings: LocalStreamMapping[] = [];
  for (const { stack, logicalId, resource } of resources) {
    if (resource.Type !== EVENT_SOURCE_MAPPING) continue;
    const key = `${stack.stackName}/${logicalId}`;
    const refuse = (message: string): TemplateModelError =>
      new TemplateModelError(`EventSourceMapping ${key}: ${message}`);
    const props = resolverOf(stack)(resource.Properties ?? {});
    if (!isRecord(props)) throw refuse('has no properties');

    const fn = functionNamed(functions, props.FunctionName);
    if (!fn) throw refuse(`FunctionName ${JSON.stringify(props.FunctionName)} names no function of the app`);
    const streamArn = props.EventSourceArn;
    const table = tables.find(
      (candidate) => candidate.streamArn !== undefined && candidate.streamArn === streamArn,
    );
    if (typeof streamArn !== 'string' || !table) {
      throw refuse(
        `EventSourceArn ${JSON.stringify(streamArn)} is not the stream of any table of the app: only the ` +
          "DynamoDB streams of the app's own tables run locally",
      );
    }
    const unsupported = NOT_EMULATED.find((name) => props[name] !== undefined);
    if (unsupported) throw refuse(`${unsupported} is not emulated by the local stack`);

    const mapping: LocalStreamMapping = {
      key,
      functionKey: fn.key,
      tableName: table.tableName,
      streamArn,
      settings: mappingSettings(props, refuse),
      enabled: props.Enabled !== false,
    };
    const destination = isRecord(props.DestinationConfig) ? props.DestinationConfig.OnFailure : undefined;
    if (isRecord(destination) && typeof destination.Destination === 'string') {
      mapping.onFailure = destination.Destination;
    }
    mappings.push(mapping);
  }
  return mappings;
}

/**
 * FunctionName takes a name, an ARN or a partial ARN (`123456789012:function:name`), each with an optional
 * version or alias qualifier; locally every one of them names the function's only version.
 */
function functionNamed(
  functions: ReadonlyMap<string, LocalFunction>,
  name: unknown,
): LocalFunction | undefined {
  if (typeof name !== 'string') return undefined;
  const parts = name.split(':');
  const at = parts.indexOf('function');
  const functionName = at >= 0 ? parts[at + 1] : parts[0];
  return [...functions.values()].find((fn) => fn.functionName === functionName);
}

/** The delivery settings, type-checked, then range-checked by the emulator's own rules. */
function mappingSettings(
  props: Record<string, unknown>,
  refuse: (message: string) => TemplateModelError,
): StreamEventSourceMappingSettings {
  const integers = [
    'BatchSize',
    'MaximumBatchingWindowInSeconds',
    'MaximumRetryAttempts',
    'MaximumRecordAgeInSeconds',
    'ParallelizationFactor',
  ] as const;
  const settings: Record<string, unknown> = { StartingPosition: props.StartingPosition };
  for (const name of integers) {
    const value = props[name];
    // CloudFormation takes numbers as strings too; anything else is left for the range check to name.
    const numeric = typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value));
    if (value !== undefined) settings[name] = numeric ? Number(value) : value;
  }
  const bisect = props.BisectBatchOnFunctionError;
  if (bisect !== undefined) {
    if (typeof bisect !== 'boolean') throw refuse('BisectBatchOnFunctionError must be a boolean');
    settings.BisectBatchOnFunctionError = bisect;
  }
  const responseTypes = props.FunctionResponseTypes;
  if (responseTypes !== undefined) {
    if (!Array.isArray(responseTypes)) throw refuse('FunctionResponseTypes must be a list');
    settings.FunctionResponseTypes = responseTypes;
  }
  const criteria = props.FilterCriteria;
  if (criteria !== undefined) {
    if (!isRecord(criteria) || (criteria.Filters !== undefined && !Array.isArray(criteria.Filters))) {
      throw refuse('FilterCriteria must be an object with a list of Filters');
    }
    settings.FilterCriteria = criteria as FilterCriteria;
  }
  const typed = settings as unknown as StreamEventSourceMappingSettings;
  try {
    resolveMappingSettings(typed);
    compileFilterCriteria(typed.FilterCriteria);
  } catch (error) {
    throw refuse((error as Error).message);
  }
  return typed;
}

/**
 * The body of `POST /v1/completions`, checked field by field into typed settings. Every wrong
 * field is a 400 naming it (OpenAI's `param`); fields this server does not know are ignored, as
 * OpenAI's clients send extra ones; fields it knows but cannot honour (several choices, echo,
 * logprobs, penalties) are refused rather than silently dropped.
 */

import { ApiError, invalidRequest } from './errors.js';

/** The checked settings of one completion request. */
export interface CompletionRequest {
  readonly model: string;
  readonly prompt: string;
  /** `max_tokens`, or undefined for the default (16, cut to what the context leaves). */
  readonly maxTokens: number | undefined;
  /** In [0, 2]; 0 is greedy decoding. Default 1. */
  readonly temperature: number;
  /** In (0, 1]. Default 1. */
  readonly topP: number;
  /** Up to 4 non-empty strings; the text stops before the first one that appears. */
  readonly stop: readonly string[];
  readonly seed: number | undefined;
  readonly stream: boolean;
  /** `stream_options.include_usage`: send a last chunk with `usage` and no choices, as OpenAI does. */
  readonly includeUsage: boolean;
}

/** OpenAI's limit on stop sequences. */
export const MAX_STOP_SEQUENCES = 4;

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}` : typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`);

/** Fields with a value that this server cannot produce other than the default, and that default. */
const UNSUPPORTED: ReadonlyArray<readonly [string, (v: unknown) => boolean, string]> = [
  ['n', (v) => v === 1, 'only one choice per request (n = 1) is supported'],
  ['best_of', (v) => v === 1, 'best_of is not supported (only 1)'],
  ['echo', (v) => v === false, 'echo is not supported'],
  ['logprobs', (v) => v === 0, 'logprobs are not supported'],
  ['suffix', (v) => v === '', 'suffix (insertion) is not supported'],
  ['presence_penalty', (v) => v === 0, 'presence_penalty is not supported (only 0)'],
  ['frequency_penalty', (v) => v === 0, 'frequency_penalty is not supported (only 0)'],
];

function optionalNumber(body: Record<string, unknown>, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidRequest(`${key} must be a number, got ${describe(v)}`, key);
  return v;
}

function optionalInteger(body: Record<string, unknown>, key: string): number | undefined {
  const v = optionalNumber(body, key);
  if (v !== undefined && !Number.isSafeInteger(v)) throw invalidRequest(`${key} must be an integer, got ${v}`, key);
  return v;
}

/** Checks a parsed JSON body; throws an `ApiError` (400, or 404 for another model) naming the first bad field. */
export function parseCompletionRequest(body: unknown, modelId: string): CompletionRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidRequest(`the request body must be a JSON object, got ${describe(body)}`);
  const b = body as Record<string, unknown>;

  const model = b.model;
  if (model === undefined || model === null) throw invalidRequest('you must provide a model parameter', 'model', 'missing_required_parameter');
  if (typeof model !== 'string') throw invalidRequest(`model must be a string, got ${describe(model)}`, 'model');
  if (model !== modelId) throw new ApiError(404, `the model ${JSON.stringify(model)} does not exist; this server serves ${JSON.stringify(modelId)}`, 'invalid_request_error', 'model', 'model_not_found');

  let prompt = b.prompt;
  if (Array.isArray(prompt)) {
    if (prompt.length !== 1 || typeof prompt[0] !== 'string') throw invalidRequest(`prompt must be a string or an array of exactly one string, got an array of ${prompt.length} ${prompt.length === 1 ? describe(prompt[0]) : 'items'}`, 'prompt');
    prompt = prompt[0];
  }
  if (prompt === undefined || prompt === null) throw invalidRequest('you must provide a prompt parameter', 'prompt', 'missing_required_parameter');
  if (typeof prompt !== 'string') throw invalidRequest(`prompt must be a string or an array of exactly one string, got ${describe(prompt)}`, 'prompt');

  const maxTokens = optionalInteger(b, 'max_tokens');
  if (maxTokens !== undefined && maxTokens < 1) throw invalidRequest(`max_tokens must be at least 1, got ${maxTokens}`, 'max_tokens');

  const temperature = optionalNumber(b, 'temperature') ?? 1;
  if (temperature < 0 || temperature > 2) throw invalidRequest(`temperature must be in [0, 2], got ${temperature}`, 'temperature');
  const topP = optionalNumber(b, 'top_p') ?? 1;
  if (!(topP > 0 && topP <= 1)) throw invalidRequest(`top_p must be in (0, 1], got ${topP}`, 'top_p');
  const seed = optionalInteger(b, 'seed');

  let stop: string[] = [];
  const s = b.stop;
  if (typeof s === 'string') stop = [s];
  else if (Array.isArray(s)) {
    if (s.length > MAX_STOP_SEQUENCES) throw invalidRequest(`stop takes at most ${MAX_STOP_SEQUENCES} sequences, got ${s.length}`, 'stop');
    s.forEach((x, i) => {
      if (typeof x !== 'string') throw invalidRequest(`stop[${i}] must be a string, got ${describe(x)}`, 'stop');
    });
    stop = s as string[];
  } else if (s !== undefined && s !== null) throw invalidRequest(`stop must be a string or an array of strings, got ${describe(s)}`, 'stop');
  if (stop.some((x) => x.length === 0)) throw invalidRequest('stop sequences must not be empty', 'stop');

  const stream = b.stream ?? false;
  if (typeof stream !== 'boolean') throw invalidRequest(`stream must be a boolean, got ${describe(stream)}`, 'stream');
  let includeUsage = false;
  const so = b.stream_options;
  if (so !== undefined && so !== null) {
    if (typeof so !== 'object' || Array.isArray(so)) throw invalidRequest(`stream_options must be an object, got ${describe(so)}`, 'stream_options');
    const iu = (so as Record<string, unknown>).include_usage ?? false;
    if (typeof iu !== 'boolean') throw invalidRequest(`stream_options.include_usage must be a boolean, got ${describe(iu)}`, 'stream_options');
    includeUsage = iu;
  }

  for (const [key, isDefault, message] of UNSUPPORTED) {
    const v = b[key];
    if (v !== undefined && v !== null && !isDefault(v)) throw invalidRequest(`${message}; got ${key} = ${describe(v)}`, key, 'unsupported_parameter');
  }
  const bias = b.logit_bias;
  if (bias !== undefined && bias !== null && (typeof bias !== 'object' || Object.keys(bias).length > 0)) throw invalidRequest('logit_bias is not supported', 'logit_bias', 'unsupported_parameter');

  return { model, prompt, maxTokens, temperature, topP, stop, seed, stream, includeUsage };
}

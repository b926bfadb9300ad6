/** `@tessera/cli/serve`: the OpenAI-compatible completion server behind `tessera serve`. */
export { createServer, DEFAULT_MAX_TOKENS, DEFAULT_MAX_BODY_BYTES, type CompletionApp, type RequestLog, type ServableModel, type ServerOptions } from './app.js';
export { serve, DEFAULT_DRAIN_MS, type RunningServer, type ServeOptions } from './node.js';
export { Scheduler, RETRY_AFTER_S, type Job, type JobEnd, type SchedulerOptions, type TokenDecoder } from './scheduler.js';
export { ApiError, type ErrorBody } from './errors.js';
export { parseCompletionRequest, MAX_STOP_SEQUENCES, type CompletionRequest } from './request.js';
export { CompletionText } from './text.js';

export type { AuditFilter, AuditPage, AuditQuery, AuditTrail } from './audit.ts';
export type { Clock } from './clock.ts';
export type { BusEvent, EventBus, PublishResult } from './event-bus.ts';
export type {
  EngineStatus,
  ExecutionDescription,
  ExecutionEngine,
  StartExecutionRequest,
  StartedExecution,
  TaskFailure,
} from './execution-engine.ts';
export type { LinkSigningKeys } from './link-signing-keys.ts';
export type { Logger } from './logger.ts';
export type { Notifier } from './notifier.ts';
export type {
  ControlRequest,
  DecideApprovalRefusal,
  DecideApprovalRequest,
  DecideApprovalResult,
  ExecutionPatch,
  OpenIncidentResult,
  Store,
} from './store.ts';
export type { ToolContext, ToolImplementation, ToolRegistry } from './tools.ts';

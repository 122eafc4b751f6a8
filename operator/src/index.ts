export type { GaiaPlatform, GaiaPlatformSpec, GaiaPlatformStatus } from "./api/types.ts";
export { type OperatorOptions, type RunningOperator, startOperator } from "./operator.ts";
export { desired } from "./specs/desired.ts";

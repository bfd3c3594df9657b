/**
 * The contract: the only module that imports generated code (`gen/`). Everything else imports
 * schemas, service descriptors and message types from here, plus the hash layouts that give the
 * messages one canonical byte form.
 */
export * from "../../gen/ccr/v1/secrets_pb.js";
export * from "../../gen/ccr/v1/relay_pb.js";
export * from "../../gen/ccr/v1/gateway_pb.js";
export * from "../../gen/ccr/v1/relay_node_pb.js";
export * from "../../gen/ccr/v1/vault_pb.js";
export * from "../../gen/ccr/v1/capability_pb.js";
export * from "../../gen/ccr/v1/confidential_workflows_pb.js";
export * as sdk from "../../gen/ccr/sdk/v1/sdk_pb.js";
export * as health from "../../gen/grpc/health/v1/health_pb.js";
export * as reflectionV1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
export * as reflectionV1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
export { CanonicalWriter } from "../domain/canonical.js";
export * from "./relay-hash.js";

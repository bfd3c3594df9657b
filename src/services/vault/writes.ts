/**
 * The owner-signed methods: PutSecret, DeleteSecret, ListSecrets. Validation first (InvalidArgument
 * with the limit in the message), then the owner's signature (./owner-auth.ts), then the store.
 * Logs name owners and identifiers, never values.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  DeleteSecretRequest,
  DeleteSecretResponseSchema,
  ListSecretsRequest,
  ListSecretsResponseSchema,
  PutSecretRequest,
  PutSecretResponseSchema,
  SecretIdentifier,
} from "../../contract/index.js";
import { parseOwner } from "../../domain/ethereum/address.js";
import { Code, ccrError } from "../../domain/errors.js";
import { sealAtRest, AT_REST_NONCE_LENGTH } from "../../domain/vault/at-rest.js";
import { checkNamespaceFilter, describeSecretId, parseSecretId, type SecretName } from "../../domain/vault/secret-id.js";
import type { VaultContext } from "./context.js";
import { checkOwnerSignature, type NoncePruner } from "./owner-auth.js";

export function requireOwner(owner: string): string {
  const parsed = parseOwner(owner);
  if (parsed.kind === "invalid") throw ccrError(parsed.reason, Code.InvalidArgument);
  return parsed.owner;
}

function requireId(id: SecretIdentifier | undefined): SecretName {
  if (id === undefined) throw ccrError("id is required: {key, namespace?}", Code.InvalidArgument);
  const parsed = parseSecretId(id);
  if (parsed.kind === "invalid") throw ccrError(parsed.reason, Code.InvalidArgument);
  return parsed.id;
}

export async function putSecret(
  ctx: VaultContext,
  pruner: NoncePruner,
  req: PutSecretRequest,
): Promise<MessageInitShape<typeof PutSecretResponseSchema>> {
  const owner = requireOwner(req.owner);
  const id = requireId(req.id);
  if (req.value.length === 0) throw ccrError("value must not be empty", Code.InvalidArgument);
  if (req.value.length > ctx.options.maxValueBytes) {
    throw ccrError(`value must be at most ${ctx.options.maxValueBytes} bytes, got ${req.value.length}`, Code.InvalidArgument);
  }
  await checkOwnerSignature(ctx, pruner, { method: "PutSecret", owner, namespace: id.namespace, key: id.key, value: req.value }, req.signature);
  const { version } = await ctx.store.put(
    { owner, ...id },
    (v) => sealAtRest(ctx.options.keyring, { owner, ...id, version: v }, req.value, ctx.randomBytes(AT_REST_NONCE_LENGTH)),
    ctx.clock.nowMs(),
  );
  ctx.logger.info({ owner, secretId: describeSecretId(id), version, bytes: req.value.length }, "secret stored");
  return { id: { key: id.key, namespace: id.namespace }, version: BigInt(version) };
}

export async function deleteSecret(
  ctx: VaultContext,
  pruner: NoncePruner,
  req: DeleteSecretRequest,
): Promise<MessageInitShape<typeof DeleteSecretResponseSchema>> {
  const owner = requireOwner(req.owner);
  const id = requireId(req.id);
  await checkOwnerSignature(ctx, pruner, { method: "DeleteSecret", owner, namespace: id.namespace, key: id.key }, req.signature);
  if (!(await ctx.store.delete({ owner, ...id }))) {
    throw ccrError(`secret ${describeSecretId(id)} not found for owner ${owner}`, Code.NotFound);
  }
  ctx.logger.info({ owner, secretId: describeSecretId(id) }, "secret deleted");
  return { id: { key: id.key, namespace: id.namespace } };
}

export async function listSecrets(
  ctx: VaultContext,
  pruner: NoncePruner,
  req: ListSecretsRequest,
): Promise<MessageInitShape<typeof ListSecretsResponseSchema>> {
  const owner = requireOwner(req.owner);
  const problem = checkNamespaceFilter(req.namespace);
  if (problem !== undefined) throw ccrError(problem, Code.InvalidArgument);
  await checkOwnerSignature(ctx, pruner, { method: "ListSecrets", owner, namespace: req.namespace }, req.signature);
  const rows = await ctx.store.list(owner, req.namespace === "" ? undefined : req.namespace);
  ctx.logger.debug({ owner, namespace: req.namespace || "*", count: rows.length }, "secrets listed");
  return {
    secrets: rows.map((row) => ({
      id: { key: row.key, namespace: row.namespace },
      version: BigInt(row.version),
      createdAtMs: BigInt(row.createdAtMs),
      updatedAtMs: BigInt(row.updatedAtMs),
    })),
  };
}

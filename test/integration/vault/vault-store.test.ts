import { describe } from "vitest";
import { describeEachDatabase } from "../../support/databases.js";
import { createMemoryVaultStore } from "../../../src/store/vault-memory-store.js";
import { createPostgresVaultStore } from "../../../src/store/vault-store.js";
import { vaultStoreContract } from "./vault-store-contract.js";

describeEachDatabase("vault store (SQL)", (getDb) => {
  vaultStoreContract(() => createPostgresVaultStore(getDb().sql));
});

describe("vault store (in memory)", () => {
  const store = createMemoryVaultStore();
  vaultStoreContract(() => store);
});

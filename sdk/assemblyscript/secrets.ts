// Secrets: fetched through the host (in the enclave: a relay round trip with a verified quorum
// certificate). A secret's value exists only in guest memory; never log it or return it.
import { rawGetSecrets } from "./host";
import { JsonValue, jsonArray, jsonObject, jsonString, parseJson, jsonError } from "./json";

/** A secret, or why it could not be had (`error` non-empty). */
export class SecretResult {
  constructor(
    public id: string,
    public namespace: string,
    public value: string,
    public error: string,
  ) {}
  get ok(): bool {
    return this.error.length == 0;
  }
}

/** One secret by key; the namespace defaults to "main". */
export function getSecret(key: string, namespace: string = "main"): SecretResult {
  const results = getSecrets([key], [namespace]);
  return results[0];
}

/**
 * Several secrets in one host call. `namespaces[i]` goes with `keys[i]` ("main" when missing or
 * empty). Answers one result per key, in order; a missing secret does not fail the others.
 */
export function getSecrets(keys: string[], namespaces: string[] = []): SecretResult[] {
  const requests = jsonArray();
  const nss: string[] = [];
  for (let i = 0; i < keys.length; i++) {
    const ns = i < namespaces.length && namespaces[i].length > 0 ? namespaces[i] : "main";
    nss.push(ns);
    requests.push(jsonObject().set("id", jsonString(keys[i])).set("namespace", jsonString(ns)));
  }
  const answer = parseJson(rawGetSecrets(jsonObject().set("requests", requests).stringify()));
  const out: SecretResult[] = [];
  if (answer === null) {
    for (let i = 0; i < keys.length; i++) out.push(new SecretResult(keys[i], nss[i], "", "malformed host answer: " + jsonError()));
    return out;
  }
  const failure = answer.get("error");
  if (failure !== null) {
    for (let i = 0; i < keys.length; i++) out.push(new SecretResult(keys[i], nss[i], "", failure.asString()));
    return out;
  }
  const responses = answer.get("responses");
  for (let i = 0; i < keys.length; i++) {
    const r: JsonValue | null = responses === null ? null : responses.at(i);
    if (r === null) {
      out.push(new SecretResult(keys[i], nss[i], "", "the host answered no entry for this secret"));
      continue;
    }
    const err = r.get("error");
    if (err !== null) out.push(new SecretResult(r.getString("id", keys[i]), r.getString("namespace", nss[i]), "", err.asString()));
    else out.push(new SecretResult(r.getString("id", keys[i]), r.getString("namespace", nss[i]), r.getString("value"), ""));
  }
  return out;
}

/**
 * Nitro-format attestation: parsing, verification policy and verifier (relay node side), and the
 * dev authority and producer (enclave side). See docs/attestation.md.
 */
export {
  AWS_NITRO_ROOT_G1_SHA256,
  DEFAULT_MAX_ATTESTATION_AGE_MS,
  DEFAULT_MAX_CLOCK_SKEW_MS,
  createAttestationPolicy,
  type AttestationPolicy,
  type AttestationPolicyOptions,
  type PcrSet,
  type PcrSetInput,
} from "./policy.js";
export {
  AttestationVerifier,
  createAttestationVerifier,
  type AttestationStats,
  type AttestationVerifierOptions,
  type RequestBinding,
} from "./verifier.js";
export {
  ATTESTATION_REJECTION_CODES,
  type AttestationRejected,
  type AttestationRejectionCode,
  type AttestationVerdict,
  type CacheOutcome,
  type VerifiedDocument,
} from "./verdict.js";
export {
  COSE_ALG_ES384,
  NITRO_LIMITS,
  coseSigStructure,
  parseNitroDocument,
  type NitroDocument,
  type NitroParseResult,
} from "./nitro-document.js";
export { sha256FingerprintHex } from "./x509-chain.js";
export {
  BINDING_HASH_BYTES,
  ENCLAVE_KEYS_V1_LENGTH,
  ENCLAVE_KEYS_V1_TAG,
  SESSION_SIGNATURE_BYTES,
  SESSION_SIGNATURE_TAG,
  encodeEnclaveSessionKeys,
  parseEnclaveSessionKeys,
  sessionSignaturePayload,
  signSessionBinding,
  verifySessionSignature,
  type EnclaveSessionKeys,
} from "./session-keys.js";
export {
  DEFAULT_DEV_LEAF_VALIDITY_MS,
  DEFAULT_DEV_ROOT_VALIDITY_MS,
  createDevRootAuthority,
  generateP384PrivateKey,
  issueDevIntermediate,
  issueDevLeaf,
  loadDevAuthority,
  type DevCertificateAuthority,
  type DevIssueOptions,
  type DevLeafCertificate,
  type DevRootOptions,
} from "./dev-authority.js";
export {
  DevAttestationProducer,
  type AttestationProducer,
  type AttestationRequest,
  type DevProducerFromAuthorityOptions,
  type DevProducerFromLeafOptions,
  type EnclaveMeasurements,
} from "./producer.js";

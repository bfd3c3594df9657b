/**
 * The configuration reference, rendered from the section declarations themselves: every key, its
 * environment variable, default and meaning. The README embeds the output and a test compares the
 * two, so the documentation cannot drift from the code (`npm run docs:config` rewrites it).
 */
import type { SectionSpec } from "./keys.js";
import { envName } from "./load.js";
import { meshSection } from "./mesh-config.js";
import {
  attestationSection,
  capabilitySection,
  enclaveSection,
  gatewaySection,
  relayNodeSection,
  vaultSection,
  workflowNodeSection,
} from "./process-sections.js";
import { serverSection } from "./server-config.js";

/** Each section, and the processes that read it. */
export const CONFIG_SECTIONS: ReadonlyArray<{ name: string; readBy: string; spec: SectionSpec }> = [
  { name: "server", readBy: "every process", spec: serverSection },
  { name: "mesh", readBy: "`ccr up`, `ccr demo`", spec: meshSection },
  { name: "gateway", readBy: "gateway", spec: gatewaySection },
  { name: "attestation", readBy: "gateway (edge check), relay nodes", spec: attestationSection },
  { name: "relayNode", readBy: "relay nodes", spec: relayNodeSection },
  { name: "vault", readBy: "vault", spec: vaultSection },
  { name: "capability", readBy: "capability", spec: capabilitySection },
  { name: "enclave", readBy: "enclave host", spec: enclaveSection },
  { name: "workflowNode", readBy: "workflow node", spec: workflowNodeSection },
];

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

export function renderConfigReference(): string {
  const lines: string[] = [];
  for (const section of CONFIG_SECTIONS) {
    lines.push(`**\`${section.name}\`** — read by ${section.readBy}`, "", "| key | env | default | meaning |", "|---|---|---|---|");
    for (const [key, spec] of Object.entries(section.spec)) {
      const def =
        spec.defaultValue === undefined ? (spec.required ? "*required*" : "*unset*") : `\`${JSON.stringify(spec.defaultValue)}\``;
      const meaning = `${spec.description}${spec.description.endsWith(".") || spec.description === "" ? "" : "."} Must be ${spec.expected}.`;
      lines.push(`| \`${key}\` | \`${spec.env ?? envName(section.name, key)}\` | ${def} | ${cell(meaning.trim())} |`);
    }
    lines.push("");
  }
  return lines.join("\n").trimEnd() + "\n";
}

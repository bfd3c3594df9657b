/**
 * The `mesh` section `ccr up` reads: where the deployment lives and which ports it takes.
 */
import { defineSection, integer, string, type SectionValues } from "./keys.js";

export const meshSection = defineSection({
  dir: string({ default: ".ccr", description: "Deployment directory: keys, configs and the embedded database." }),
  basePort: integer({
    min: 0,
    max: 65000,
    default: 7400,
    description: "First port; servers take consecutive ports from here (0: every server picks a free port).",
  }),
  nodes: integer({ min: 1, max: 64, default: 4, description: "Relay DON size N (N ≥ 3F+1)." }),
  f: integer({ min: 0, max: 21, default: 1, description: "Faulty relay nodes tolerated; a quorum is F+1." }),
  host: string({ default: "127.0.0.1", description: "Interface every server binds." }),
  databaseUrl: string({
    env: "DATABASE_URL",
    secret: true,
    description: "postgres:// URL of a PostgreSQL server; unset: embedded PGlite in DIR/data/pglite.",
  }).optional(),
});

export type MeshConfig = SectionValues<typeof meshSection>;
